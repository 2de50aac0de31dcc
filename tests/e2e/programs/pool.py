# multiprocessing.Pool(4) summing squares in chunks, each worker adding its
# results to a multiprocessing.Value under its Lock (a POSIX semaphore and
# the Value's heap arena: unlinked files of /dev/shm mapped shared). Prints
# "pool: READY" once some chunks are done, then goes on slowly so that the
# dump lands mid-run; prints "pool: OK <total>" when every chunk is in and
# the Value equals the sum computed by the parent, else "pool: FAIL ...".
import multiprocessing as mp
import sys
import time

N_CHUNKS = 40
CHUNK = 1000

total = None


def init(v):
    global total
    total = v


def work(i):
    s = sum(x * x for x in range(i * CHUNK, (i + 1) * CHUNK))
    time.sleep(0.15)
    with total.get_lock():
        total.value += s
    return s


if __name__ == "__main__":
    mp.set_start_method("fork")
    v = mp.Value("q", 0)
    with mp.Pool(4, initializer=init, initargs=(v,)) as pool:
        results = []
        it = pool.imap_unordered(work, range(N_CHUNKS))
        for k, r in enumerate(it):
            results.append(r)
            if k == 7:
                print("pool: READY", flush=True)
    want = sum(x * x for x in range(N_CHUNKS * CHUNK))
    got = sum(results)
    if got == want and v.value == want:
        print(f"pool: OK {want}", flush=True)
        sys.exit(0)
    print(f"pool: FAIL results {got} value {v.value} want {want}", flush=True)
    sys.exit(1)
