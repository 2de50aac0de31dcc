# What `cmake --install` puts in place, and the Debian package CPack builds
# from it (`cpack -G DEB` in the build tree). Checked by tests/build/*.sh:
#   bin/amber                                  the one binary (amber's libraries are static)
#   bin/criu -> amber                          AMBER_INSTALL_CRIU_LINK: amber answers as criu (runc, podman)
#   share/man/man1/amber.1.gz, amber-VERB.1.gz a page per verb (man/generate.py)
#   share/bash-completion/completions/amber    completion/amber.bash
include(GNUInstallDirs)

# The version: the one the image inventory records (src/image/format.h).
file(STRINGS ${CMAKE_SOURCE_DIR}/src/image/format.h AMBER_VERSION_LINE REGEX "kAmberVersion = \"")
string(REGEX REPLACE ".*\"([0-9][0-9.]*)\".*" "\\1" AMBER_VERSION "${AMBER_VERSION_LINE}")

install(TARGETS amber RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

option(AMBER_INSTALL_CRIU_LINK "Install a criu symlink to amber (runc and podman run the engine named criu)" ON)
if(AMBER_INSTALL_CRIU_LINK)
  # A relative link made here and installed as a link (file(INSTALL) keeps
  # symlinks), so it points at the amber beside it in any prefix.
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/pkg)
  file(CREATE_LINK amber ${CMAKE_BINARY_DIR}/pkg/criu SYMBOLIC)
  install(FILES ${CMAKE_BINARY_DIR}/pkg/criu DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# Man pages: the options of every page come from the built amber's --help
# (so they follow the code), the prose around them from man/*.roff.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
file(GLOB AMBER_MAN_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/man/*.roff)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/stamp
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/man/generate.py --amber $<TARGET_FILE:amber>
    --src ${CMAKE_SOURCE_DIR}/man --out ${CMAKE_BINARY_DIR}/man --version ${AMBER_VERSION}
  COMMAND ${CMAKE_COMMAND} -E touch ${CMAKE_BINARY_DIR}/man/stamp
  DEPENDS amber ${CMAKE_SOURCE_DIR}/man/generate.py ${AMBER_MAN_SOURCES}
  COMMENT "Generating man pages from amber's --help and man/*.roff")
add_custom_target(man ALL DEPENDS ${CMAKE_BINARY_DIR}/man/stamp)
install(DIRECTORY ${CMAKE_BINARY_DIR}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1.gz")

install(FILES ${CMAKE_SOURCE_DIR}/completion/amber.bash RENAME amber
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# The Debian package: `cpack -G DEB` (or `cpack` alone) in the build tree.
set(AMBER_PACKAGE_CONTACT "amber developers <amber@localhost>" CACHE STRING "Maintainer field of the Debian package")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME amber)
set(CPACK_PACKAGE_VERSION ${AMBER_VERSION})
set(CPACK_PACKAGE_CONTACT ${AMBER_PACKAGE_CONTACT})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "checkpoint and restore whole Linux containers")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "amber checkpoints a whole Linux container - every process, its memory, files, sockets and namespaces - into an "
  "authenticated image directory and restores it later, here or on another host. Before a dump it proves that the "
  "container shares nothing with the outside.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
# Depends: from the libraries the binary links (protobuf, fmt, OpenSSL,
# libnl, libnftables, zstd, xxhash), by dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
if(AMBER_INSTALL_CRIU_LINK)
  # Debian's criu package owns /usr/bin/criu too.
  set(CPACK_DEBIAN_PACKAGE_CONFLICTS criu)
endif()
include(CPack)
