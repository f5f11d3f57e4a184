#!/usr/bin/python3
"""spectra-numpy.py: the numpy side of bench/spectra.sh.

Reads the decoder matrices of a Hugging Face folder (model.safetensors, or the shards named by
model.safetensors.index.json) directly with numpy (F32, F16 or BF16 -> float32), runs
numpy.linalg.svd(W, compute_uv=False) on each, and prints the time spent in the SVDs (wall, and
CPU over all threads) and, if a rankscope export is given, the largest relative difference of the
singular values >= 1e-3 s1.  With F64REF=1 in the environment it also takes, untimed, the float64
SVD of each (float32) matrix and prints the largest relative difference >= 1e-3 s1 and absolute
difference below (in units of s1) of rankscope's values and of numpy's float32 ones against it.

  spectra-numpy.py MODEL_DIR FIRST_LAYER LAST_LAYER [rankscope-export.csv]
"""
import json
import os
import struct
import sys
import time

import numpy as np

MATS = [("q", "self_attn.q_proj"), ("k", "self_attn.k_proj"), ("v", "self_attn.v_proj"),
        ("o", "self_attn.o_proj"), ("gate", "mlp.gate_proj"), ("up", "mlp.up_proj"),
        ("down", "mlp.down_proj")]


def shards(folder):
    """Map tensor name -> (file, header entry, data offset)."""
    index = os.path.join(folder, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) \
        else ["model.safetensors"]
    out = {}
    for fn in files:
        path = os.path.join(folder, fn)
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        for name, ent in header.items():
            if name != "__metadata__":
                out[name] = (path, ent, 8 + n)
    return out


def load(entry):
    """One tensor as a float32 matrix."""
    path, ent, base = entry
    a, b = ent["data_offsets"]
    raw = np.fromfile(path, dtype=np.uint8, count=b - a, offset=base + a)
    dt = ent["dtype"]
    if dt == "BF16":
        x = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    elif dt == "F16":
        x = raw.view(np.float16).astype(np.float32)
    elif dt == "F32":
        x = raw.view(np.float32)
    else:
        raise SystemExit("unsupported dtype " + dt)
    return x.reshape(ent["shape"])


def main():
    folder, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    export = sys.argv[4] if len(sys.argv) > 4 else None
    index = shards(folder)
    ours = {}
    if export:
        with open(export) as f:
            next(f)
            for line in f:
                name, kind, i, s = line.rstrip("\n").split(",")
                if kind == "weight":
                    ours.setdefault(name, []).append(float(s))
    svd_time = svd_cpu = load_time = 0.0
    count = 0
    worst = 0.0
    f64 = os.environ.get("F64REF") == "1"
    worst64 = {"rankscope": [0.0, 0.0], "numpy_f32": [0.0, 0.0]}
    for layer in range(first, last + 1):
        for short, hf in MATS:
            t0 = time.perf_counter()
            w = np.ascontiguousarray(load(index["model.layers.%d.%s.weight" % (layer, hf)]))
            t1 = time.perf_counter()
            c1 = time.process_time()
            s = np.linalg.svd(w, compute_uv=False)
            svd_cpu += time.process_time() - c1
            t2 = time.perf_counter()
            load_time += t1 - t0
            svd_time += t2 - t1
            count += 1
            name = "L%d.%s" % (layer, short)
            if name in ours:
                mine = np.array(ours[name])
                keep = s >= 1e-3 * s[0]
                rel = np.abs(mine[:len(s)][keep] - s[keep]) / s[keep]
                worst = max(worst, float(rel.max()))
                if f64:
                    ref = np.linalg.svd(w.astype(np.float64), compute_uv=False)
                    big = ref >= 1e-3 * ref[0]
                    for who, got in (("rankscope", mine[:len(ref)]), ("numpy_f32", s)):
                        d = np.abs(got - ref)
                        worst64[who][0] = max(worst64[who][0], float((d[big] / ref[big]).max()))
                        if (~big).any():
                            worst64[who][1] = max(worst64[who][1], float(d[~big].max() / ref[0]))
            del w
    print("numpy_matrices %d" % count)
    print("numpy_svd_seconds %.3f" % svd_time)
    print("numpy_svd_cpu_seconds %.3f" % svd_cpu)
    print("numpy_load_seconds %.3f" % load_time)
    if export:
        print("max_rel_diff_vs_rankscope %.3e" % worst)
    if export and f64:
        for who, (rel, ab) in worst64.items():
            print("vs_float64_%s max_rel %.3e max_abs_below %.3e" % (who, rel, ab))


if __name__ == "__main__":
    main()
