# Prints the value of one long counter of a HotSpot perf data file
# (hsperfdata_USER/PID, what jstat reads): hsperf.py FILE NAME
import struct
import sys

data = open(sys.argv[1], "rb").read()
magic, = struct.unpack_from(">I", data, 0)
if magic != 0xCAFEC0C0:
    sys.exit("not a perf data file")
order = "<" if data[4] == 1 else ">"
entry_offset, num_entries = struct.unpack_from(order + "ii", data, 24)
off = entry_offset
for _ in range(num_entries):
    length, name_off, vlen, dtype, _flags, _units, _var, data_off = struct.unpack_from(order + "iiibbbbi", data, off)
    name = data[off + name_off:data.index(b"\0", off + name_off)].decode()
    if name == sys.argv[2] and vlen == 0 and dtype == ord("J"):
        print(struct.unpack_from(order + "q", data, off + data_off)[0])
        sys.exit(0)
    off += length
sys.exit("no counter " + sys.argv[2])
