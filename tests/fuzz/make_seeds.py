#!/usr/bin/env python3
# Writes the hand-made seeds of tests/fuzz/corpus/ for fuzz_c_api.cpp: every
# operation with both generators and widths, in place, overlapping, NULL, near
# 2^32 and 2^64, multi-threaded sizes, every keep_prob of the edge table, bad
# generators and widths, forced implementations, 2-D, channel and fused calls.
# The encoding mirrors the harness's byte reader (run_call / pick_*): change
# both together. The corpus also holds files this script does not write:
# regress-* (inputs that once crashed, kept as found) and found-* (inputs from
# long fuzzer runs that reach code the seeds do not, kept by
# `simdrop_fuzz_c_api -merge=1 -use_counters=0 tests/fuzz/corpus <run corpus>`).
#
# Usage: python3 tests/fuzz/make_seeds.py tests/fuzz/corpus
import struct, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
u8 = lambda v: bytes([v & 0xFF])
u16 = lambda v: struct.pack('<H', v & 0xFFFF)
u32 = lambda v: struct.pack('<I', v & 0xFFFFFFFF)
u64 = lambda v: struct.pack('<Q', v & 0xFFFFFFFFFFFFFFFF)
OPS = dict(forward=0, forward_mask=1, backward=2, backward_mask=3, mask=4, fill=5, philox=6, status=7,
           fwd2d=8, bwd2d=9, channels=10, bias=11, f64=12, bf64=13, bf16=14, bbf16=15, f16=16, bf16b=17)
# keep_prob table indices (see pick_keep_prob)
KP = dict(zero=0, negzero=1, one=2, half=3, p01=4, p09=5, p0999=6, p08=7, denorm=8, negdenorm=9, maxsub=10,
          fltmin=11, m32=12, m33=13, m33h=14, m16=15, m17=16, m17h=17, below1=18, below1b=19, e16a=20, e16b=21,
          oneulp=22, two=23, neg1=24, fltmax=25, inf=26, ninf=27, nan=28, nnan=29, snan=30, nanmax=31)
def keep(name): return u8(0) + u8(KP[name])
def gen(g): return u8(0 if g == 0 else 112) if g in (0, 1) else u8(240) + u32(g)
def bits(b): return u8({32: 0, 16: 112, 8: 200}[b]) if b in (8, 16, 32) else u8(240) + u32(b)
def seedv(v): return u8(4) + u64(v)
def runtime(isa=None, threads=0): return u8(0x40 + isa if isa is not None else 0) + u8(threads)
def layout(mode=0, mis=0, a=0, b=1, shift=0): return u8(mode) + u8(mis) + u8(a) + u8(b) + u16(shift)
def offset(mode=0, delta=0, extra=b''):
    return u8(mode) + u16(delta) + extra
def n_small(n): return u8(4) + u16(n)          # n % 4500
def n_big(extra=0): return u8(9) + u16(extra)   # 2^17 + extra % 12000
def call(op, n=b'', kp='half', g=0, b=32, lay=None, off=None, isa=None, threads=0, flags=0, s=0x1234, st=7, data=0x55):
    x = u8(1) + runtime(isa, threads) + u8(OPS[op]) + u8(flags) + keep(kp) + gen(g) + bits(b) + seedv(s) + seedv(st)
    x += n + (lay if lay is not None else layout()) + (off if off is not None else offset(0, 0, u16(100))) + u64(data)
    return x
def call2d(op, rows, cols, lds=(0, 0, 0), lay=None, off=None, kp='half', g=0, b=32, isa=None, threads=0, flags=1, exp=None):
    x = u8(1) + runtime(isa, threads) + u8(OPS[op]) + u8(flags) + keep(kp) + gen(g) + bits(b) + seedv(9) + seedv(3)
    x += u8(rows) + u16(cols) + (u8(exp) if exp is not None else b'') + b''.join(u8(l) for l in lds)
    return x + (lay if lay is not None else layout()) + (off if off is not None else offset(0, 0, u16(5))) + u64(1)
def callch(batch, ch, sp, cl, lay=None, off=None, kp='half', g=0, b=32, isa=None):
    flags = 0x10 if cl else 0
    x = u8(1) + runtime(isa) + u8(OPS['channels']) + u8(flags) + keep(kp) + gen(g) + bits(b) + seedv(9) + seedv(3)
    x += u8(batch) + u8(ch) + u8(sp)
    return x + (lay if lay is not None else layout()) + (off if off is not None else offset(0, 0, u16(5))) + u64(2)
seeds = {}
def add(name, data): seeds[name] = data
one_d = ['forward', 'forward_mask', 'backward', 'backward_mask', 'mask', 'fill', 'f64', 'bf64', 'bf16', 'bbf16', 'f16', 'bf16b']
for op in one_d:
    for g in (0, 1):
        for b in (32, 16):
            add(f'{op}-g{g}-b{b}', call(op, n_small(1000 + 37 * g + b), g=g, b=b))
    add(f'{op}-inplace', call(op, n_small(333), lay=layout(10, 0, 0, 1)))
    add(f'{op}-overlap', call(op, n_small(200), lay=layout(11, 0, 0, 1, 40)))
    add(f'{op}-overlap-bytes', call(op, n_small(200), lay=layout(12, 0, 1, 0, 7)))
    add(f'{op}-null', call(op, n_small(10), lay=layout(13, 0, 0, 0)))
    add(f'{op}-end-of-index', call(op, n_small(250), off=offset(4, 0), g=1, b=16))
    add(f'{op}-past-index', call(op, n_small(250), off=offset(4, 1)))
    add(f'{op}-cross-2^32', call(op, n_small(300), off=offset(7, 3)))
    add(f'{op}-misaligned', call(op, n_small(77), lay=layout(0, 0xFF)))
for op in ['forward_mask', 'backward_mask', 'mask', 'fill', 'forward']:
    add(f'{op}-threads', call(op, n_big(777), threads=2, g=1))
    add(f'{op}-threads-philox16', call(op, n_big(5), threads=3, b=16))
for kp in KP:
    add(f'keep-{kp}', call('forward_mask', n_small(64), kp=kp, b=32 if KP[kp] % 2 else 16))
add('generator-invalid', call('forward', n_small(8), g=256))
add('generator-2', call('mask', n_small(8), g=2))
add('bits-invalid', call('fill', n_small(8), b=17))
add('null-params', call('forward', n_small(8), flags=0xFF))
add('n-zero-null', u8(1) + runtime() + u8(0) + u8(0) + keep('half') + gen(0) + bits(32) + seedv(1) + seedv(1) + u8(0) + layout(14, 0, 0, 0, 0xFFFF) + offset(0) + u64(0))
for i in range(3):
    add(f'isa-{i}', call('forward_mask', n_small(2000), isa=i, g=i % 2, b=16 if i else 32))
add('philox', u8(1) + runtime() + u8(OPS['philox']) + u32(0x243F6A88) + u32(0x85A308D3) + u32(0x13198A2E) + u32(0x03707344) + u32(0xA4093822) + u32(0x299F31D0))
add('status', u8(1) + runtime() + u8(OPS['status']) + u32(0xFFFFFFF0))
add('switch-errors', u8(0xEE) + u8(3) + u8(5) + u8(0xEE) + u8(9) + u8(200))
add('multi-call', call('fill', n_small(100), isa=0, threads=1) + call('forward', n_small(100), g=1) + call('mask', n_small(100), b=16))
for op in ('fwd2d', 'bwd2d'):
    add(f'{op}', call2d(op, 7, 45, (3, 1, 2)))
    add(f'{op}-contig', call2d(op, 5, 64, (0, 0, 0)))
    add(f'{op}-bad-ld', call2d(op, 4, 30, (250, 1, 0)))
    add(f'{op}-inplace', call2d(op, 6, 20, (2, 2, 0), lay=layout(10, 0, 0, 1)))
    add(f'{op}-huge-rows', call2d(op, 7, 100, (0, 0, 0), flags=0x10, exp=40))
    add(f'{op}-rows-overflow', call2d(op, 7, 100, (0, 0, 0), flags=0x10, exp=63))
    add(f'{op}-end', call2d(op, 9, 33, (1, 0, 0), off=offset(4, 0)))
add('bias', call2d('bias', 9, 70, (0, 0, 0)))
add('bias-inplace-residual', call2d('bias', 9, 70, (0, 0, 0), lay=layout(10, 0, 2, 3)))
add('bias-inplace-x', call2d('bias', 3, 17, (0, 0, 0), lay=layout(10, 0, 0, 3)))
add('bias-y-on-bias', call2d('bias', 1, 17, (0, 0, 0), lay=layout(10, 0, 1, 3)))
for cl in (0, 1):
    add(f'channels-{cl}', callch(5, 13, 7, cl))
    add(f'channels-{cl}-spatial0', callch(5, 13, 0, cl))
    add(f'channels-{cl}-inplace', callch(3, 9, 11, cl, lay=layout(10, 0, 0, 1)))
    add(f'channels-{cl}-end', callch(3, 9, 11, cl, off=offset(4, 0), g=1, b=16))
add('channels-bad-layout', u8(1) + runtime() + u8(OPS['channels']) + u8(0x30) + keep('half') + gen(0) + bits(32) + seedv(1) + seedv(1) + u8(2) + u8(3) + u8(4) + u8(7) + layout() + offset(0) + u64(0))
# Issue 15: f16 calls ending within 31 of 2^64 read and wrote past their buffers
# on avx2 and avx512. The reported call: backward_f16, n = 7, offset = 2^64 - 25
# (offset mode 4: 2^64 - n + delta % 64), keep_prob 0.8, Philox 32-bit, seed 8,
# implementation avx2 (index 1 of avx512, avx2, scalar), 3 threads.
add('regress-f16-end-of-index-backward', call('bf16b', n_small(7), kp='p08', off=offset(4, -18), isa=1, threads=3, s=8))
add('regress-f16-end-of-index-forward', call('f16', n_small(1), kp='p08', off=offset(4, -15), isa=0, threads=1, s=8))
# The edge modes of pick_offset (mode >= 200): ending within 40 of 2^64, within
# 96 of it, next to and straddling a multiple of 2^32.
for op in ('f16', 'bf16b', 'forward_mask', 'fill'):
    add(f'{op}-edge-end', call(op, n_small(29), off=offset(200, 0, u8(3)), g=1, b=16))
    add(f'{op}-edge-top', call(op, n_small(5), off=offset(201, 0, u8(60))))
    add(f'{op}-edge-2^32k', call(op, n_small(77), off=offset(202, -9, u8(0) + u32(0x1234))))
    add(f'{op}-edge-straddle', call(op, n_small(300), off=offset(203, 5, u8(0) + u32(0xFFFF)), g=1))
# Views with their own index row stride (issue 12): operation bytes 240, 241,
# 242 (forward, backward, mask alone); after the leading dimensions, the
# element type (0 f32, 1 f64, 2 bf16, 3 f16) and the stride byte m (index_ld =
# cols + (m % 10) * (1 if m % 3 == 0 else 37) below 200; shorter than cols
# below 230: an error; else a raw 64-bit value follows).
VIEW_OPS = dict(fview=240, bview=241, mview=242)
def callview(op, rows, cols, lds, etype, m, extra=b'', off=None, g=0, b=32, isa=None, threads=0):
    x = u8(1) + runtime(isa, threads) + u8(VIEW_OPS[op]) + u8(1) + keep('p09') + gen(g) + bits(b) + seedv(7) + seedv(5)
    x += u8(rows) + u16(cols) + b''.join(u8(l) for l in lds) + u8(etype) + u8(m) + extra
    return x + layout() + (off if off is not None else offset(0, 0, u16(17))) + u64(3)
for etype, tname in enumerate(['f32', 'f64', 'bf16', 'f16']):
    add(f'view-{tname}', callview('fview', 9, 33, (2, 1, 1), etype, 4))
    add(f'view-{tname}-shard', callview('fview', 7, 100, (0, 0, 0), etype, 7, g=1, b=16, threads=3))
    add(f'view-{tname}-backward', callview('bview', 5, 64, (3, 3, 0), etype, 9))
    add(f'view-{tname}-end', callview('fview', 4, 30, (0, 0, 0), etype, 5, off=offset(4, 0)))
add('view-mask', callview('mview', 11, 45, (0, 0, 2), 0, 8))
add('view-mask-end', callview('mview', 3, 7, (0, 0, 0), 0, 3, off=offset(200, 0, u8(1)), g=1))
add('view-short-index-ld', callview('fview', 4, 30, (0, 0, 0), 0, 210))
add('view-huge-index-ld', callview('fview', 4, 30, (0, 0, 0), 1, 250, extra=u8(2) + u64(0)))
# 8-bit thresholds (issue 14).
for op in ['forward', 'forward_mask', 'mask', 'f16', 'f64', 'bias']:
    for g in (0, 1):
        if op == 'bias':
            add(f'{op}-g{g}-b8', call2d('bias', 9, 64, (0, 0, 0), g=g, b=8))
        else:
            add(f'{op}-g{g}-b8', call(op, n_small(1000 + 64 * g + 7), g=g, b=8))
add('forward_mask-b8-offset3', call('forward_mask', n_small(300), b=8, off=offset(0, 0, u16(3))))
add('view-f32-b8', callview('fview', 9, 100, (0, 0, 0), 0, 7, b=8))
for name, data in seeds.items():
    open(os.path.join(out, name), 'wb').write(data)
print(len(seeds), 'seeds,', sum(len(d) for d in seeds.values()), 'bytes')
