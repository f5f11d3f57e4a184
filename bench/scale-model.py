#!/usr/bin/env python3
"""bench/scale-model.py: the 70B shapes on 1, 8 and 64 nodes, on paper (docs/scale.md).

    python3 SRCDIR/bench/scale-model.py [RESULTS [SCALE_MD]]    (run from a build directory)

Reads the bench/scale.sh table in docs/results.md (the Llama-2-7B and Llama-3-8B rows), turns
each measured step into a rate of this machine (multiply-adds or flops per second, from the
shapes' operation counts below), and extrapolates every step to Llama-2-70B and Llama-3-70B
on clusters of the node stated in NODE.  Memory per rank comes from rankscope's own planner:
`info` on a one-layer slice of each 70B shape (bench/mkmodel --layers 1; every figure `info`
plans is per layer or per window, so one layer gives the whole model's), run once with one
BLAS thread per rank.  The bytes each reduction moves follow the MPI runner's reductions as
built (mpi/dist-mpi.c).  Writes the section between the markers of SCALE_MD (default
docs/scale.md); prints it with SCALE_MD "-".
"""
import os
import re
import subprocess
import sys

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "docs/results.md")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(SRC, "docs/scale.md")
BENCH_DIR = os.environ.get("BENCH_DIR", "/tmp/rankscope-bench")
BIN = os.environ.get("RS_BIN", os.path.join(os.getcwd(), "rankscope"))

# The machine the rows were measured on, and the node of the clusters on paper.
HERE_CORES = 2
NODE = dict(cores=64, mem_gib=512, usable=0.9, link_gbs=12.5,
            text="64 cores (AVX-512, the per-core speed of this machine), 512 GiB, one "
                 "100 Gb/s InfiniBand link (12.5 GB/s)")
NODES = (1, 8, 64)

SHAPES = {
    #             dim  layers heads kv  ffn    vocab
    "llama2-7b":  (4096, 32, 32, 32, 11008, 32000),
    "llama3-8b":  (4096, 32, 32, 8, 14336, 128256),
    "llama2-70b": (8192, 80, 64, 8, 28672, 32000),
    "llama3-70b": (8192, 80, 64, 8, 28672, 128256),
}
# The workloads extrapolated: rankscope's defaults where it has them.
CAL_TOKENS, CAL_CTX, CAL_GROUPS = 65536, 2048, 32      # calibrate's default
PPL_TOKENS, PPL_CTX = 64 * 4096, 4096                  # a 262k-token evaluation
BO_TOKENS, BO_CTX = 16 * 2048, 2048                    # one bo trial's validation


def mats(shape):
    """(rows, cols, input group) of the seven decoder matrices of one layer."""
    d, _, h, kv, f, _ = SHAPES[shape]
    hd = d // h
    return [(h * hd, d, "attn"), (kv * hd, d, "attn"), (kv * hd, d, "attn"),
            (d, h * hd, "o"), (f, d, "mlp"), (f, d, "mlp"), (d, f, "down")]


def inputs(shape):
    """Width of each of a layer's four inputs."""
    d, _, h, _, f, _ = SHAPES[shape]
    return {"attn": d, "o": (d // h) * h, "mlp": d, "down": f}


def spectrum_work(m, n):
    """Multiply-adds of one weight spectrum (src/spectra-run.c): Gram + tridiagonalization."""
    k, b = min(m, n), max(m, n)
    return b * k * k / 2 + 2 * k ** 3 / 3


def layer_spectra(shape):
    return sum(spectrum_work(m, n) for m, n, _ in mats(shape))


def layer_features(shape):
    """Feature spectra: W·L (m·n²/2) on top, and one Cholesky factor (n³/6) per input."""
    w = sum(spectrum_work(m, n) + m * n * n / 2 for m, n, _ in mats(shape))
    return w + sum(n ** 3 / 6 for n in inputs(shape).values())


def fwd_flops(shape, ctx):
    """Flops of one token through one layer: the seven products and the attention at an
    average position (ctx + 1) / 2."""
    d, _, h, _, _, _ = SHAPES[shape]
    return 2 * sum(m * n for m, n, _ in mats(shape)) + 4 * (ctx + 1) / 2 * d


def cov_flops(shape):
    """Flops of one token in the four statistics (a symmetric rank-1 update per input)."""
    return sum(n * n for n in inputs(shape).values())


def head_flops(shape):
    d, _, _, _, _, v = SHAPES[shape]
    return 2 * d * v


def stat_bytes(shape, groups):
    """float64 values one rank's layer statistics hold for the reduction (src/calib.c sums,
    through mpi/dist-mpi.c, the covariance's upper triangle, the group sums and means)."""
    return 8 * sum(n * (n + 1) // 2 + 2 * groups * n + 2 * n for n in inputs(shape).values())


def read_rows():
    rows = {}
    with open(RESULTS) as f:
        text = f.read()
    block = text.split("<!-- scale:begin -->")[1].split("<!-- scale:end -->")[0]
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] in SHAPES:
            rows[(cells[0], cells[1], cells[2])] = cells
    return rows


def seconds(rows, shape, fmt, step):
    c = rows.get((shape, fmt, step))
    if c is None or c[4] in ("failed", "-"):
        return None
    return float(c[4])


def rates(rows):
    """This machine's rate of each step, per measured shape."""
    out = {}
    for s in ("llama2-7b", "llama3-8b"):
        _, layers, _, _, _, _ = SHAPES[s]
        t_open = seconds(rows, s, "bf16", "open") or 0.0
        r = {}
        t = seconds(rows, s, "bf16", "spectra")
        if t:
            r["spectra"] = 4 * layer_spectra(s) / (t - t_open)
        t = seconds(rows, s, "bf16", "features")
        if t:
            r["features"] = 4 * layer_features(s) / (t - t_open)
        t = seconds(rows, s, "bf16", "calibrate")
        if t:
            r["calibrate"] = 4096 * layers * (fwd_flops(s, 256) + cov_flops(s)) / (t - t_open)
        c = rows.get((s, "bf16", "ppl"))
        if c:
            m = re.search(r"([0-9.]+) tokens/s", c[6])
            if m:
                r["ppl"] = float(m.group(1)) * (layers * fwd_flops(s, 512) + head_flops(s))
        c = rows.get((s, "gguf", "ppl"))
        if c:
            m = re.search(r"([0-9.]+) tokens/s", c[6])
            if m:
                r["ppl q8_0"] = float(m.group(1)) * (layers * fwd_flops(s, 512) +
                                                     head_flops(s))
        out[s] = r
    return out


def plan_memory(shape):
    """Per-rank memory (bytes) of each operation from `info` on a one-layer slice, one thread."""
    path = os.path.join(BENCH_DIR, shape + "-L1")
    if not os.path.exists(path):
        subprocess.run([os.path.join(os.getcwd(), "bench/mkmodel"), "--layers", "1", path + ".part",
                        shape, "bf16"], check=True, stdout=subprocess.DEVNULL)
        os.rename(path + ".part", path)
    env = dict(os.environ, RANKSCOPE_MEMORY="1TiB")
    out = subprocess.run([BIN, "-t", "1", "-c", "load '%s'; info" % path], env=env,
                         check=True, capture_output=True, text=True).stdout
    units = {"B": 1, "KiB": 2 ** 10, "MiB": 2 ** 20, "GiB": 2 ** 30, "TiB": 2 ** 40}
    mem = {}
    for line in out.splitlines():
        m = re.match(r"^  (spectra --kind feature|spectra|calibrate|ppl|plan factors) +"
                     r"([0-9.]+) (B|KiB|MiB|GiB|TiB) ", line)
        if m:
            mem[m.group(1)] = float(m.group(2)) * units[m.group(3)]
    return mem, out


# BLAS threads beyond a rank's first add THREAD_EFFICIENCY of a core each (OpenBLAS's threads
# wait on each other in the panels and the eigensolver's memory-bound steps; this machine's
# measurement: two workers at one thread against one worker at two, spectra-run.h)
THREAD_EFFICIENCY = 0.7


def thread_speed(threads):
    return 1 + THREAD_EFFICIENCY * (threads - 1)


def schedule(nodes, units, unit_work, unit_max, rate, mem_rank, usable):
    """Best split of `units` independent pieces (equal work unit_work, the largest unit_max)
    over `nodes` nodes: ranks per node p (a power of two, p ranks fit in memory), each with
    cores/p BLAS threads, one level of parallelism; on a tie the more ranks.  Returns (time,
    ranks, ranks per node, threads)."""
    best = None
    p = 1
    while p <= NODE["cores"]:
        if p * mem_rank <= usable:
            thr = NODE["cores"] // p
            ranks = min(units, nodes * p)
            # the units go round the ranks: ceil(units / ranks) of them on the busiest rank
            t = max(-(-units // ranks) * unit_work, unit_max) / (thread_speed(thr) * rate)
            if best is None or t <= best[0] + 1e-9:
                best = (t, ranks, min(p, ranks), thr)
        p *= 2
    return best


def reduce_seconds(ranks, nbytes):
    """One layer's statistics summed over ranks in rank order (mpi/dist-mpi.c): a
    reduce-scatter by slices (each rank adds its slice of every rank's sums, in rank order)
    and a gather of the slices to rank 0: each rank sends and receives about 2 S."""
    if ranks < 2:
        return 0.0
    return 2 * nbytes * (ranks - 1) / ranks / (NODE["link_gbs"] * 1e9)


def reduction(ranks, nbytes, layers):
    if ranks < 2:
        return "none (one rank)"
    return "layer sums %.1f GB per rank, %d times: about %s of transfers" % (
        nbytes / 1e9, layers, human_s(layers * reduce_seconds(ranks, nbytes)))


def human_s(t):
    if t < 120:
        return "%.0f s" % t
    if t < 7200:
        return "%.0f min" % (t / 60)
    return "%.1f h" % (t / 3600)


def gib(b):
    return "%.1f GiB" % (b / 2 ** 30)


def model_section():
    rows = read_rows()
    rt = rates(rows)
    core = {}       # per-core rate of each step: the mean over the measured shapes
    for step in ("spectra", "features", "calibrate", "ppl"):
        vals = [rt[s][step] for s in rt if step in rt[s]]
        core[step] = sum(vals) / len(vals) / HERE_CORES if vals else None
    L = []
    L.append("<!-- scale-model:begin -->")
    L.append("## The model, and its numbers (bench/scale-model.py)")
    L.append("")
    L.append("Rates of this machine (%d cores), from the bench/scale.sh rows in docs/results.md "
             "divided into the operation counts of each step:" % HERE_CORES)
    L.append("")
    L.append("| shape | spectra (weight) | spectra (feature) | calibrate | ppl (BF16) | ppl (Q8_0) |")
    L.append("|---|---|---|---|---|---|")
    for s, r in rt.items():
        def g(k, unit):
            return "%.1f %s" % (r[k] / 1e9, unit) if k in r else "-"
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            s, g("spectra", "G MAC/s"), g("features", "G MAC/s"), g("calibrate", "GFLOP/s"),
            g("ppl", "GFLOP/s"), g("ppl q8_0", "GFLOP/s")))
    L.append("")
    L.append("Per core (mean of the shapes, divided by %d): spectra %.2f G MAC/s, feature "
             "spectra %.2f G MAC/s, calibrate %.1f GFLOP/s, ppl %.1f GFLOP/s." % (
                 HERE_CORES, core["spectra"] / 1e9, core["features"] / 1e9,
                 core["calibrate"] / 1e9, core["ppl"] / 1e9))
    L.append("")
    L.append("Node: %s.  Each step is split into independent units (matrices, calibration "
             "groups, windows) dealt round the ranks; a node runs p ranks with %d/p BLAS "
             "threads each (one level of parallelism), p the power of two that fits the "
             "rank's memory and gives the shortest time; a thread beyond a rank's first adds "
             "%.0f%% of a core.  A step's time is the busiest rank's units, or its largest "
             "unit, at the per-core rate; the calibrate rows add the transfers of the layer "
             "sums at the link's speed." % (NODE["text"], NODE["cores"],
                                           100 * THREAD_EFFICIENCY))
    L.append("")
    for s in ("llama2-70b", "llama3-70b"):
        d, layers, h, kv, f, v = SHAPES[s]
        mem, _ = plan_memory(s)
        L.append("### %s (%d layers, dim %d, heads %d/%d, ffn %d, vocab %d)" % (
            s, layers, d, h, kv, f, v))
        L.append("")
        L.append("Per-rank memory from `info` on a one-layer slice (one BLAS thread): weight "
                 "spectra %s, feature spectra %s, calibrate %s (defaults: %d tokens, ctx %d, "
                 "%d groups), ppl %s (ctx 2048)." % (
                     gib(mem.get("spectra", 0)), gib(mem.get("spectra --kind feature", 0)),
                     gib(mem.get("calibrate", 0)), CAL_TOKENS, CAL_CTX, CAL_GROUPS,
                     gib(mem.get("ppl", 0))))
        L.append("")
        L.append("| step | work | nodes | ranks (threads each) | time | memory per rank | "
                 "what the ranks exchange |")
        L.append("|---|---|---|---|---|---|---|")
        usable = NODE["mem_gib"] * NODE["usable"] * 2 ** 30
        sp_total = layers * layer_spectra(s)
        ft_total = layers * layer_features(s)
        biggest = max(spectrum_work(m, n) for m, n, _ in mats(s))
        biggest_f = max(spectrum_work(m, n) + m * n * n / 2 for m, n, _ in mats(s))
        cal_tok = fwd_flops(s, CAL_CTX) + cov_flops(s)
        ppl_tok = layers * fwd_flops(s, PPL_CTX) + head_flops(s)
        bo_tok = layers * fwd_flops(s, BO_CTX) + head_flops(s)
        sbytes = stat_bytes(s, CAL_GROUPS)
        steps = [
            # name, work text, units, work per unit, largest unit, rate, memory key
            ("weight spectra", "%d matrices, %.0f T MAC" % (layers * 7, sp_total / 1e12),
             layers * 7, sp_total / (layers * 7), biggest, core["spectra"], "spectra"),
            ("feature spectra", "%d matrices, %.0f T MAC" % (layers * 7, ft_total / 1e12),
             layers * 7, ft_total / (layers * 7), biggest_f, core["features"],
             "spectra --kind feature"),
            ("calibrate", "%.1f PFLOP: %d tokens, %d groups" % (
                CAL_TOKENS * layers * cal_tok / 1e15, CAL_TOKENS, CAL_GROUPS),
             CAL_GROUPS, CAL_TOKENS // CAL_GROUPS * layers * cal_tok,
             CAL_TOKENS // CAL_GROUPS * layers * cal_tok, core["calibrate"], "calibrate"),
            ("ppl", "%.0f PFLOP: %d windows x %d" % (
                PPL_TOKENS * ppl_tok / 1e15, PPL_TOKENS // PPL_CTX, PPL_CTX),
             PPL_TOKENS // PPL_CTX, PPL_CTX * ppl_tok, PPL_CTX * ppl_tok, core["ppl"], "ppl"),
            ("bo trial (validation)", "%.0f TFLOP: %d windows x %d" % (
                BO_TOKENS * bo_tok / 1e12, BO_TOKENS // BO_CTX, BO_CTX),
             BO_TOKENS // BO_CTX, BO_CTX * bo_tok, BO_CTX * bo_tok, core["ppl"], "ppl"),
        ]
        for name, what, units, unit_work, unit_max, rate, key in steps:
            for n in NODES:
                t, ranks, per_node, thr = schedule(n, units, unit_work, unit_max, rate,
                                                   mem.get(key, 0), usable)
                red = ""
                if name == "calibrate":
                    red = reduction(ranks, sbytes, layers)
                    t += layers * reduce_seconds(ranks, sbytes)
                elif name.endswith("spectra"):
                    red = "gather of the values: %.0f MB in all" % (
                        layers * sum(min(m, k) for m, k, _ in mats(s)) * 8 / 1e6)
                else:
                    red = "gather of per-token NLLs: %.1f MB" % (
                        units * (PPL_CTX if name == "ppl" else BO_CTX) * 8 / 1e6)
                L.append("| %s | %s | %d | %d = %d per node x %d threads | %s | %s | %s |" % (
                    name, what, n, ranks, per_node, thr, human_s(t), gib(mem.get(key, 0)),
                    red))
        L.append("")
    L.append("Regenerate: `python3 bench/scale-model.py` from a build directory, after "
             "bench/scale.sh has written the 7B/8B rows.")
    L.append("<!-- scale-model:end -->")
    return "\n".join(L) + "\n"


def main():
    sec = model_section()
    if OUT == "-":
        sys.stdout.write(sec)
        return
    with open(OUT) as f:
        text = f.read()
    if "<!-- scale-model:begin -->" in text:
        a = text.index("<!-- scale-model:begin -->")
        b = text.index("<!-- scale-model:end -->") + len("<!-- scale-model:end -->\n")
        text = text[:a] + sec + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + sec
    with open(OUT + ".tmp", "w") as f:
        f.write(text)
    os.rename(OUT + ".tmp", OUT)
    print("bench/scale-model.py: wrote %s" % OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
