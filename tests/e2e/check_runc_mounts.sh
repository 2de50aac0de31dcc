# The mount table of a container runc built (not amber): `amber check --pid`
# of its init reads it from the init's pid alone, its root found from the
# host's mount of the rootfs — runc's layout (a read-only rootfs, proc,
# tmpfs /dev with its nodes, devpts, /dev/shm, /dev/mqueue, sysfs, masked
# and read-only paths) has a recipe for every mount; runc's cgroup binds of
# the host are named with the --external that declares them, and once
# declared no mount is left unsupported.
. "$E2E_LIB"
command -v runc >/dev/null || e2e_skip "runc is not installed"

bundle="$E2E_TMP/bundle"
make_busybox_rootfs "$bundle/rootfs"
mkdir -p "$bundle/rootfs/sys"
(cd "$bundle" && runc spec)
python3 - "$bundle/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "1000"]
json.dump(c, open(sys.argv[1], "w"))
EOF
id=$(e2e_name runc)
runc_root="$E2E_TMP/runc-root"
runc_cleanup() { runc --root "$runc_root" delete -f "$id" >/dev/null 2>&1; }
trap 'rc=$?; runc_cleanup; (exit $rc); e2e_cleanup' EXIT
(cd "$bundle" && runc --root "$runc_root" run -d --pid-file "$E2E_TMP/pid" "$id" </dev/null >/dev/null 2>&1) ||
  e2e_skip "runc cannot run a container here"
pid=$(cat "$E2E_TMP/pid")
mountinfo=$(cat /proc/$pid/mountinfo)
assert_contains "$mountinfo" " / ro," "runc's read-only rootfs"
assert_contains "$mountinfo" " /proc/keys " "runc's masked paths"

note "runc's cgroup binds are named with the --external that declares them"
# (runc gives the container no cgroup namespace of its own: the host's,
# declared too)
run_cmd "$AMBER" check --pid "$pid" --external cgroup
cgroups=$(awk '{ for (i = 7; $i != "-"; i++); if ($(i + 1) == "cgroup") print $5 }' /proc/$pid/mountinfo)
[ -n "$cgroups" ] || e2e_skip "runc made no cgroup v1 mount here"
for mp in $cgroups; do
  assert_contains "$OUT" "declare it with --external mount:$mp" "check names $mp"
done
assert_not_contains "$OUT" "amber cannot make" "every other mount of runc's layout has a recipe"

note "declared, no mount is left unsupported"
ext=(--external cgroup)
for mp in $cgroups; do ext+=(--external "mount:$mp"); done
run_cmd "$AMBER" check --pid "$pid" "${ext[@]}"
assert_not_contains "$OUT" "unsupported: mount" "mounts once the cgroup binds are declared (status $STATUS)"
assert_eq running "$(runc --root "$runc_root" state "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" \
  "the runc container after the checks"
