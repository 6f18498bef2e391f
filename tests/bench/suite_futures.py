# SPDX-License-Identifier: BSD-3-Clause
"""suite_futures.py - the benchmark suite's workloads through
mpi4py.futures.MPIPoolExecutor, for suite.sh to put next to mpimap:

    mpirun -n W+1 python3 -m mpi4py.futures suite_futures.py MODE CHUNK INPUT OUTPUT

W workers run the items (the extra rank is the executor's manager). MODE is
noop (an empty result per item) or sleepms (sleep the item's milliseconds,
give the item back). Items are INPUT's lines; the results go to OUTPUT in
input order, one a line, as `mpimap run -o` writes them. Prints one line:

    workers W items N start T0 end T1 busy B

with the first item's start and the last item's end (wall clock) and the sum
of the item times (sleepms; 0 for noop), the figures `mpimap run
--report-json` gives for the same map."""
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def noop(item):
    return ""


def sleepms(item):
    start = time.time()
    t0 = time.perf_counter()
    time.sleep(float(item) / 1000)
    return item, start, time.perf_counter() - t0


def main():
    mode, chunk, path_in, path_out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    with open(path_in) as f:
        items = f.read().splitlines()
    workers = MPI.COMM_WORLD.Get_size() - 1
    first = last = busy = 0.0
    with MPIPoolExecutor() as ex, open(path_out, "w") as out:
        if mode == "noop":
            for r in ex.map(noop, items, chunksize=chunk):
                out.write(r + "\n")
        else:
            first = float("inf")
            for item, start, duration in ex.map(sleepms, items, chunksize=chunk):
                out.write(item + "\n")
                first = min(first, start)
                last = max(last, start + duration)
                busy += duration
    print("workers %d items %d start %.6f end %.6f busy %.6f"
          % (workers, len(items), first, last, busy))


if __name__ == "__main__":
    main()
