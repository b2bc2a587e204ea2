"""Timing for ``pyloss bench``: implementations timed *interleaved* in one
run -- sample k of every implementation is taken before sample k+1 of any --
so that a machine shared with other work slows all of them alike.  Each
sample times a batch of calls sized to last ``--sample-ms``."""
import time


class Impl:
    def __init__(self, label, kind, fn):
        self.label, self.kind, self.fn = label, kind, fn
        self.number = 1
        self.samples = []
        self.error = None
        self.first = None   # seconds of the first call: JIT compile / cache load, first touch


def _calibrate(impl, sample_s):
    fn = impl.fn
    try:
        t = time.perf_counter()
        fn()  # warm-up: JIT compiles, first-touch, caches
        impl.first = time.perf_counter() - t
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
    except Exception as exc:  # a peer that cannot run this case
        impl.error = f"{type(exc).__name__}: {exc}"
        return
    impl.number = max(1, min(100_000, int(sample_s / max(dt, 1e-7))))


def _time_group(impls, repeat, sample_s, settle_s):
    """Interleaved samples.  Before each sample: a pause of `settle_s`, so that
    the previous implementation's thread pool (PyTorch, scikit-learn and pyloss
    each bring an OpenMP runtime, whose idle threads spin for a while) has gone
    to sleep and does not steal the cores, then one untimed call to wake this
    implementation's own pool."""
    live = [i for i in impls if i.error is None]
    for i in live:
        _calibrate(i, sample_s)
    live = [i for i in live if i.error is None]
    perf = time.perf_counter
    for r in range(repeat):
        k = r % len(live) if live else 0
        for impl in live[k:] + live[:k]:   # rotate the order each round
            fn, num = impl.fn, impl.number
            if settle_s:
                time.sleep(settle_s)
            fn()
            t = perf()
            for _ in range(num):
                fn()
            impl.samples.append((perf() - t) / num)

