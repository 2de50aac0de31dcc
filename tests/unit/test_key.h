// The key the unit tests make and read images with (image/auth.h): fixed
// bytes, so no test touches the host's key.
#pragma once
#include <array>
#include <cstddef>

#include "image/auth.h"

namespace amber::image {

inline const Key& test_key() {
  static const Key key = [] {
    std::array<std::byte, kKeySize> b{};
    for (size_t i = 0; i < b.size(); i++) b[i] = static_cast<std::byte>(0xa0 + i);
    return Key::from_bytes(b);
  }();
  return key;
}

}  // namespace amber::image
