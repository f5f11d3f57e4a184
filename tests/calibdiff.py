#!/usr/bin/env python3
"""calibdiff.py: compare the calibration entries of two rankscope cache directories.

usage: calibdiff.py DIR_A DIR_B TOL
Reads the cache entry format (src/cache.h: "RSCACHE1", version, key length, payload length,
checksum, key, payload) and the calibration payload (src/calib.c: "RSCALIB1", version, element
size, n, groups, tokens, spare; group means G*n doubles, pooled mean n doubles, the covariance's
upper triangle) from the files themselves.  Every calib entry of A must be in B with the same key
text, width, groups and tokens, bitwise-equal group means, and a pooled mean and covariance
within TOL of A's relative to the largest magnitude of each (TOL 0: bitwise).  Prints one line
per entry pair compared and the largest relative difference; exit 0 when all agree."""
import glob
import os
import struct
import sys

from array import array


def read_entry(path):
    raw = open(path, "rb").read()
    if raw[:8] != b"RSCACHE1":
        raise ValueError("%s: not a cache entry" % path)
    keylen, paylen = struct.unpack_from("<IQ", raw, 12)
    key = raw[32:32 + keylen].decode()
    pay = raw[32 + keylen:32 + keylen + paylen]
    if pay[:8] != b"RSCALIB1":
        raise ValueError("%s: not a calibration payload" % path)
    es, n, g, tokens = struct.unpack_from("<IQQQ", pay, 12)
    off = 48
    gmeans = pay[off:off + 8 * g * n]
    off += 8 * g * n
    mean = array("d", pay[off:off + 8 * n])
    off += 8 * n
    cov = array("d" if es == 8 else "f", pay[off:off + es * (n * (n + 1) // 2)])
    return key, n, g, tokens, gmeans, mean, cov


def rel(a, b):
    """Largest |a - b| over the largest |a| (machine byte order: entries are machine-local)."""
    scale = max(max(abs(x) for x in a), 1e-300)
    return max(abs(x - y) for x, y in zip(a, b)) / scale


def main():
    if len(sys.argv) != 4:
        print("usage: calibdiff.py DIR_A DIR_B TOL", file=sys.stderr)
        return 2
    a_dir, b_dir, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
    files = sorted(glob.glob(os.path.join(a_dir, "calib-*.rsc")))
    if not files:
        print("calibdiff: no calibration entries in %s" % a_dir)
        return 1
    worst, bad = 0.0, 0
    for fa in files:
        fb = os.path.join(b_dir, os.path.basename(fa))
        if not os.path.exists(fb):
            print("calibdiff: %s: missing in %s" % (os.path.basename(fa), b_dir))
            bad += 1
            continue
        ka, na, ga, ta, gma, ma, ca = read_entry(fa)
        kb, nb, gb, tb, gmb, mb, cb = read_entry(fb)
        if (ka, na, ga, ta) != (kb, nb, gb, tb) or gma != gmb:
            print("calibdiff: %s: key, shape, tokens or group means differ" % os.path.basename(fa))
            bad += 1
            continue
        d = max(rel(ma, mb), rel(ca, cb))
        worst = max(worst, d)
        if (tol == 0 and (ma.tobytes() != mb.tobytes() or ca.tobytes() != cb.tobytes())) or d > tol:
            print("calibdiff: %s: relative difference %.3g over %g" % (os.path.basename(fa), d, tol))
            bad += 1
    print("calibdiff: %d entries, %d differ; largest relative difference %.3g" % (len(files), bad, worst))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
