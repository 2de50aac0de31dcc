#!/usr/bin/python3
# A container runtime's side of CRIU's RPC protocol, the way runc drives it,
# for the swrk_*.sh scenarios: a SOCK_SEQPACKET socketpair, the engine run as
# `ENGINE swrk N` (N: its end, inherited, as go-criu does), one protobuf message per packet, NOTIFY
# answered with notify_success, the final reply printed.
#
#   swrk_client.py ENGINE PROTO_DIR REQUEST [options]
#     REQUEST: version | features | pre-dump | dump | restore | raw-field N
#     --pid PID  --images DIR  --work DIR  --root DIR  --leave-running
#     --freeze-cgroup DIR  --cgroup DIR (the engine is put into this v2 cgroup
#     before the request, as runc does for a restore)  --opt NAME=VALUE
#     --fail-notify SCRIPT (answer that notification with a failure)
#
# Prints one line per message received: "notify SCRIPT PID" and then
# "reply TYPE success=B pid=P errno=E" and the error message, if any.
# Exits 0 when the final reply says success, 1 otherwise.
import argparse
import os
import socket
import subprocess
import sys
import tempfile


def load_proto(proto_dir):
    out = tempfile.mkdtemp(prefix="swrk-pb-")
    subprocess.run(["protoc", "-I", proto_dir, "--python_out", out, os.path.join(proto_dir, "criu_rpc.proto")],
                   check=True)
    sys.path.insert(0, out)
    import criu_rpc_pb2
    return criu_rpc_pb2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine")
    ap.add_argument("proto_dir")
    ap.add_argument("request")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--images")
    ap.add_argument("--work")
    ap.add_argument("--root")
    ap.add_argument("--leave-running", action="store_true")
    ap.add_argument("--freeze-cgroup")
    ap.add_argument("--cgroup")
    ap.add_argument("--opt", action="append", default=[])
    ap.add_argument("--fail-notify")
    ap.add_argument("--field", type=int)
    a = ap.parse_args()
    pb = load_proto(a.proto_dir)

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    dirs = []

    def child_setup():
        if a.cgroup:
            with open(os.path.join(a.cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    # The engine's fds: the socket; the image and work directories are
    # ours, named by number (the engine opens /proc/OUR_PID/fd/N).
    engine = subprocess.Popen([a.engine, "swrk", str(theirs.fileno())], preexec_fn=child_setup, pass_fds=(theirs.fileno(),),
                              stdin=subprocess.DEVNULL)
    theirs.close()

    req = pb.criu_req()
    kinds = {"version": pb.VERSION, "features": pb.FEATURE_CHECK, "pre-dump": pb.PRE_DUMP, "dump": pb.DUMP,
             "restore": pb.RESTORE, "raw-field": pb.DUMP}
    req.type = kinds[a.request]
    if a.request == "features":
        req.features.mem_track = True
        req.features.lazy_pages = True
    if a.request in ("pre-dump", "dump", "restore", "raw-field"):
        o = req.opts
        img = os.open(a.images, os.O_RDONLY | os.O_DIRECTORY)
        dirs.append(img)
        o.images_dir_fd = img
        if a.work:
            wd = os.open(a.work, os.O_RDONLY | os.O_DIRECTORY)
            dirs.append(wd)
            o.work_dir_fd = wd
        o.log_file = "engine.log"
        o.notify_scripts = True
        # What runc always sends, at their defaults.
        o.shell_job = False
        o.ext_unix_sk = False
        o.file_locks = False
        o.manage_cgroups = True
        o.manage_cgroups_mode = pb.DEFAULT
        o.orphan_pts_master = True
        o.empty_ns = 0x40000000  # CLONE_NEWNET, as runc sets it
        o.log_level = 4
        if a.pid:
            o.pid = a.pid
        if a.root:
            o.root = a.root
        if a.leave_running:
            o.leave_running = True
        if a.freeze_cgroup:
            o.freeze_cgroup = a.freeze_cgroup
        if a.request == "restore":
            o.rst_sibling = True
            o.evasive_devices = True
        for kv in a.opt:
            name, value = kv.split("=", 1)
            field = o.DESCRIPTOR.fields_by_name[name]
            if field.type == field.TYPE_BOOL:
                setattr(o, name, value == "true")
            elif field.type == field.TYPE_STRING:
                setattr(o, name, value)
            else:
                setattr(o, name, int(value, 0))
    data = req.SerializeToString()
    if a.request == "raw-field":
        # An option field amber does not know (varint 1 under field N of criu_opts).
        extra = bytes([(a.field << 3) & 0x7F | 0x80, a.field >> 4, 1]) if a.field >= 16 else bytes([a.field << 3, 1])
        opts = req.opts.SerializeToString() + extra
        req2 = pb.criu_req()
        req2.type = pb.DUMP
        data = req2.SerializeToString() + bytes([0x12, len(opts)]) + opts
    ours.send(data)

    ok = False
    while True:
        msg = ours.recv(1 << 20)
        if not msg:
            print("eof")
            break
        resp = pb.criu_resp()
        resp.ParseFromString(msg)
        if resp.type == pb.NOTIFY:
            print(f"notify {resp.notify.script} {resp.notify.pid}", flush=True)
            ack = pb.criu_req()
            ack.type = pb.NOTIFY
            ack.notify_success = resp.notify.script != a.fail_notify
            ours.send(ack.SerializeToString())
            continue
        print(f"reply {pb.criu_req_type.Name(resp.type)} success={resp.success} pid={resp.restore.pid} "
              f"errno={resp.cr_errno}", flush=True)
        if resp.HasField("version"):
            v = resp.version
            print(f"version {v.major_number}.{v.minor_number} name={v.name}")
        if resp.HasField("features"):
            print(f"features mem_track={resp.features.mem_track} lazy_pages={resp.features.lazy_pages}")
        if resp.cr_errmsg:
            print("errmsg: " + resp.cr_errmsg)
        if resp.type == pb.RESTORE and resp.success:
            # rst_sibling: the restored init is the runtime's child.
            with open(f"/proc/{resp.restore.pid}/status") as f:
                ppid = [line.split()[1] for line in f if line.startswith("PPid:")][0]
            print(f"restored-parent {ppid} self={os.getpid()}", flush=True)
        ok = resp.success
        break
    ours.close()
    rc = engine.wait()
    print(f"engine exit {rc}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
