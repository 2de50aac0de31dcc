import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

// Worker threads step 64-bit linear congruential generators and check every
// 1024th state against the jump-ahead formula (computed independently, by
// squaring); they allocate as they go so the GC keeps collecting, and the
// loops are hot enough for C1 and C2 to compile them. The main thread prints
// "PROGRESS rounds errors" every 200 ms until the file named by its second
// argument exists, then stops the workers, checks each one's last state again
// and prints "FINAL OK ..." (exit 0) or "FINAL FAIL ..." (exit 1).
public class Workers {
    static final long A = 6364136223846793005L, C = 1442695040888963407L;
    static final AtomicLong rounds = new AtomicLong();
    static final AtomicLong errors = new AtomicLong();
    static volatile boolean stop = false;

    // The state n steps after s.
    static long jump(long s, long n) {
        long accA = 1, accC = 0, a = A, c = C;
        while (n != 0) {
            if ((n & 1) != 0) {
                accA *= a;
                accC = accC * a + c;
            }
            c = (a + 1) * c;
            a *= a;
            n >>>= 1;
        }
        return accA * s + accC;
    }

    public static void main(String[] args) throws Exception {
        int nthreads = Integer.parseInt(args[0]);
        Path stopFile = Paths.get(args[1]);
        Thread[] ts = new Thread[nthreads];
        long[] seeds = new long[nthreads], states = new long[nthreads], steps = new long[nthreads];
        for (int t = 0; t < nthreads; t++) {
            final int id = t;
            seeds[t] = 0x9E3779B97F4A7C15L * (t + 1);
            ts[t] = new Thread(() -> {
                long s = seeds[id], n = 0;
                List<long[]> kept = new ArrayList<>();
                while (!stop) {
                    long[] block = new long[1024];
                    for (int i = 0; i < block.length; i++) {
                        s = s * A + C;
                        block[i] = s;
                    }
                    n += block.length;
                    if (block[block.length - 1] != jump(seeds[id], n)) {
                        errors.incrementAndGet();
                        System.out.println("ERROR worker " + id + " step " + n);
                    }
                    kept.add(block);
                    if (kept.size() > 64) kept.clear();
                    rounds.incrementAndGet();
                    synchronized (states) {
                        states[id] = s;
                        steps[id] = n;
                    }
                    // A breather now and then: the host has other work (2 CPUs).
                    if ((n / block.length) % 64 == 0) {
                        try {
                            Thread.sleep(1);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }
            }, "worker-" + t);
            ts[t].start();
        }
        System.out.println("READY " + nthreads);
        while (!Files.exists(stopFile)) {
            Thread.sleep(200);
            System.out.println("PROGRESS " + rounds.get() + " " + errors.get());
        }
        stop = true;
        for (Thread t : ts) t.join();
        int bad = 0;
        for (int t = 0; t < nthreads; t++)
            if (steps[t] == 0 || states[t] != jump(seeds[t], steps[t])) bad++;
        boolean ok = errors.get() == 0 && bad == 0;
        System.out.println((ok ? "FINAL OK" : "FINAL FAIL") + " rounds " + rounds.get() + " errors " + errors.get()
            + " bad " + bad);
        System.exit(ok ? 0 : 1);
    }
}
