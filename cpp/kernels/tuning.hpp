// Every threshold of the kernels, with the measurement that chose it. Nothing else in the
// project restates these numbers: README and docs point here.
//
// (Plain constexpr at namespace scope: internal linkage, so the instruction-set-specific
// translation units can include this without sharing any symbol with the rest.)
#pragma once

#include <cstdint>

namespace deeplinear::tuning {

// -- which kernel runs the n×n products (choose_backend in dispatch.cpp) -------------------

// Whole fixed-size steps (gd and penalty) up to this d: one kernel call per sweep instead of one
// per product. Above it the small kernel's per-product call is a small part of a product.
// (All 12 sizes are compiled; the table of fixed steps in kernel_abi.hpp has this length + 1.)
constexpr std::int64_t kFixedMax = 12;

// Up to small_max the small kernel runs (no packing; from kPrefetchMin it prefetches the next
// products' operands), up to packed_max (float64) the packed kernel, above it the BLAS (where the
// build has none, the packed kernel). Per instruction set, from whole GD steps on this project's
// machine (Xeon, AVX-512, 2 FMA units; benchmarks/cpp/gd_steps, alternating runs, steps/s):
//   AVX-512, float64: small against packed 900 vs 823 at d = 96, L = 16; 176 vs 157 at 128, 32;
//     401 vs 385 at 160, 8; 300 vs 280 at 176, 8; 263 vs 259 at 184, 8; 224 vs 232 at 192, 8.
//     packed (blocks of kPackedDepth) against the BLAS (OpenBLAS 0.3.31, SkylakeX kernel): 104 vs
//     90 at 256, 8; 75 vs 61 at 384, 4; 30.7 vs 28.8 at 512, 4; 13.7 vs 13.4 at 768, 3; 10.8 vs
//     11.2 at 1024, 2.
//   AVX-512, float32 (Python, _core.run per back end): small ≈ BLAS at 128–256 (339 vs 278 at
//     128, 32; 185 vs 182 at 256, 8), BLAS ahead at 384 (96 vs 122); the packed kernel is slower.
//   AVX2 (forced on the same machine; the BLAS pinned to its Haswell kernel): small 2,028 vs packed
//     1,843 vs BLAS 1,606 at 64, 16; 566 / 558 / 520 at 96, 16; 109 / 112 / 106 at 128, 32;
//     packed 174 vs BLAS 177 at 192, 8 (even); 69 vs 75 at 256, 8.
//   Generic (scalar fma): only for CPUs without AVX2 and FMA; the BLAS from small sizes on.
struct Switches {
    std::int64_t small_max, packed_max, small_max_float32;
};
constexpr Switches kAvx512Switches{176, 768, 256};
constexpr Switches kAvx2Switches{128, 192, 128};
constexpr Switches kGenericSwitches{32, 32, 32};

// The packed kernel takes op(b) in blocks of this many rows (the inner dimension k), so that the
// panels of a block stay in L2 (2 MB here); the sums so far are stored and reloaded between blocks.
// AVX-512, steps/s at (256, 8), (384, 4), (512, 4): no blocks 89.6, 54–67, 16; 384: 103.7, 72.0,
// 25.6; 256: 103.1, 74.1, 25.8; 192: 104.2, 75.1, 29.7; 128: 103.8, 73.0, 28.1. On Zen 4 (1 MB
// of L2) depths of 96, 128, 256 and 512 ran 0.98-1.02x 192 at (512, 4) (Trainers of each depth
// stepped in turn in one process, medians of 7 rounds, each round's spread larger); on
// 2026-12-05, builds of their own timed by benchmarks/cpp/gd_steps in 3 alternating rounds, 256,
// 384 and 768 ran 0.995-1.034x 192 at (512, 4), 0.99-1.04x at (256, 8), 0.98-1.01x at (384, 4) and
// 1.02-1.03x at (768, 3): within 3.5 %, on one of the two CPUs only, so 192 stays.
constexpr std::int64_t kPackedDepth = 192;

// Split between threads, the packed kernel's threads each pack all the panels of op(b) for
// themselves (a block's packing is 1/rows of its products' work) instead of a share of one set,
// and never meet at a barrier (there were two per block of k). The blocks of k are then as deep as
// lets every thread's panels together take at most n² elements, so that the workspace stays
// within 2·L·d² (tests/test_memory.py), and of equal depths; private panels only while that depth
// is at least kPrivateDepthMin. gd_steps, AVX-512, 2 threads, steps/s against shared panels of
// depth 192 (two runs): (200, 8) 333.6–361.7 against 295.9–325.2, (256, 8) 173.6–187.7 against
// 160.8–172.9 (3 blocks of 86), (384, 4) 133.3–138.3 against 127.7–128.7 (3 of 128), (512, 4)
// 56.3–58.0 against 54.1–55.7 (3 of 171); one thread (256, 8) with blocks of 86: 103.4 against
// 104.6 with blocks of 192 (one thread keeps 192: no private panels).
constexpr std::int64_t kPrivateDepthMin = 32;

// -- tile shapes of the kernels (rows × vectors of the instruction set's width) ----------------

// AVX2 (16 vector registers): 6 rows × 2 vectors, 12 accumulators + 2 rows of op(b) + 1 broadcast.
constexpr int kAvx2SmallRows = 6, kAvx2SmallVectors = 2;
constexpr int kAvx2PackedRows = 6, kAvx2PackedVectors = 2;
// AVX-512 (32 vector registers): 8 rows (8×8 register transposes) × 2 vectors for the small
// kernel (n = 16 is one tile wide; 16 accumulators hide the fma latency), × 3 vectors for the
// packed kernel (24 accumulators + 3 rows of op(b) + 1 broadcast: GCC 12 broadcasts each row's
// scalar once, vbroadcastsd, for its 3 multiply-adds). On Zen 4 (VectorCore::halves), whole steps
// of two builds in alternating processes (as benchmarks/portable_vs_native.py times them):
//   - packed tiles of 6 rows × 4 vectors ran 1.04x these at (512, 4) (median of 11 rounds,
//     0.98-1.12x) and 1.05x at (256, 8) (5 rounds, 0.91-1.12x); not adopted: a second packed
//     kernel for one CPU's 4 %, and unmeasured on the Xeon;
//   - the broadcast in each multiply-add's memory operand ({1to8}, forced by inline assembly)
//     ran 1.00x at (512, 4) and 0.75-0.92x at (128, 32) (the small kernel).
//   Three more, each a build of its own against this one, 2026-12-04: Trainers at (512, 4) in
//   alternating processes (9 rounds, median steps/s) and n = 512 products (_core.gemm, backend
//   "packed", hot operands, 4 alternating rounds of medians of 7, GFLOP/s; this build 43.5-45.2):
//   - a last panel of 8 or 16 columns computed with 1 or 2 vectors, not 3 (528 → 512 columns at
//     n = 512): 18.93 against 18.87 steps/s, products 43.7-45.4;
//   - op(a) = aᵀ packed too (its rows for successive k lie 4 KB apart at n = 512, in one L1 set):
//     19.00 steps/s, aᵀ products 40.5-45.2 against 41.0-45.5;
//   - tiles of 12 rows × 2 vectors (the shape of OpenBLAS's SkylakeX kernel, 16 × 12): 19.05
//     steps/s, products 41.8-44.7.
//   All within the rounds' spread (18.2-19.6 steps/s for each build): not adopted. (_core.gemm
//   makes its outputs and a Products, panels included, at every call: the same kernel reused,
//   benchmarks/cpp/products 512, ran 47.9-52.1 GFLOP/s, level with OpenBLAS, on 2026-12-05.)
//   That day, benchmarks/cpp/gd_steps in 3 alternating rounds, builds of their own: tiles of 6 × 4
//   vectors 1.025x at (256, 8) and at (512, 4); 12 × 2 0.92-0.97x; 4 × 6 0.89-1.005x; with
//   kPackedDepth 768, 6 × 4 tiles 1.034x at (512, 4). Not adopted: a Zen 4 packed kernel of its
//   own for 2.5-3.4 % (docs/performance.md, "On AMD Zen 4").
constexpr int kAvx512SmallRows = 8, kAvx512SmallVectors = 2;
constexpr int kAvx512PackedRows = 8, kAvx512PackedVectors = 3;
// Generic (scalars): 4 × 4 accumulators.
constexpr int kGenericSmallRows = 4, kGenericSmallVectors = 4;
constexpr int kGenericPackedRows = 4, kGenericPackedVectors = 4;

// -- threads ----------------------------------------------------------------------------------

// From this n, with threads > 1, the small kernel may share its row blocks among the threads.
// Below it a product takes a few microseconds, and waking the second thread for each one cost
// more than it saved (whole GD steps at n = 48: 0.65× one thread; n = 64: 1.1–1.2×, n = 80:
// 1.1–1.3×, on this project's shared 2-core machine).
constexpr std::int64_t kSmallSplitMin = 64;

// The timed split (thread_split.hpp): products timed on one thread, then split; the first
// products of a split phase that wake the other threads; the shortest and longest stretch of
// products run the chosen way before probing again. C++ harness, d = 64, L = 16, a busy loop
// pinned to the second core: always splitting 290–610 steps/s, one thread about 1,600, the
// timed choice 1,280–1,620 (2.1–5.6× the split); without the busy loop the timed choice ran
// 0.85–1.00× the always-split kernel (1,500–1,850 steps/s).
constexpr std::int64_t kSplitProbe = 48;
// A probe on one thread also ends once it has taken kSplitProbeSeconds, after at least
// kSplitProbeMin products: 48 products of d = 512 take 0.16 s on one thread, so a dl.train call of
// 0.3 s (benchmarks/compare.py --threads 2) spent most of its time probing: 39.3 steps/s at
// (512, 4), where the products always split give 55-60 (gd_steps); with the cap 55.8 in
// compare.py. A stretch also ends once it has taken kSplitStretchSeconds (65536 products of
// d = 512 take minutes): a split that lost to a passing disturbance (the first split products
// of a fresh process took 10-30 ms instead of 1.8 in gd_steps) is tried again within a second.
constexpr double kSplitProbeSeconds = 2e-3;
constexpr std::int64_t kSplitProbeMin = 2;
constexpr double kSplitStretchSeconds = 1.0;
// The split probe that follows a short one goes on until this long (or kSplitProbe products):
// with a busy loop on the second core, probes of 2 split products at d = 512 were won now and
// then (a woken thread runs at once for a while before it has to share the core), and 1 round
// in 5 of gd_steps (1 s each) then ran at 11-19 steps/s instead of 31-33 on one thread.
constexpr double kSplitJudgeSeconds = 20e-3;
constexpr std::int64_t kSplitSettle = 4;
constexpr std::int64_t kSplitShortest = 1024;
constexpr std::int64_t kSplitLongest = std::int64_t{1} << 16;

// -- prefetching the next products' operands (Upcoming) --------------------------------------

// From this n the small kernel prefetches too (the packed kernel always does): below it a step's
// matrices stay in L2 and the prefetches only cost instructions.
constexpr std::int64_t kPrefetchMin = 81;

// -- batches: lane groups (lanes.hpp) -----------------------------------------------------------

// The n (bit n) at which a batch of gd or penalty networks runs in lane groups (networks side by
// side in the SIMD lanes) unless told otherwise; at the others each network's own kernel is as
// fast or faster. _core.batch_session with lanes "always" against "never", B = 256, L = 16, gd,
// one core, medians of 5-9 rounds of the network-steps/s ratio, in one process (lane kernels'
// tiles of 4 × 6 vectors for n > 8, kLane* in table.inc):
//   AVX-512 float64: 1.54x at 5, 1.15x at 6, 1.02x at 7, 0.73x at 8 (the fixed-size kernel), 1.22x
//     at 9, 1.14x at 10, 1.07x at 11, 1.40x at 12, 1.71x at 13, 1.47x at 14, 1.47x at 15, 1.01x at
//     16 (0.97x at L = 8); L = 32: 1.17x at 9, 1.47x at 12, 1.49x at 15.
//   AVX-512 float32: 5.1x at 4, 2.2x at 6, 1.50x at 8, 1.34x at 9, 1.20x at 10, 1.35x at 12, 1.76x
//     at 14, 1.78x at 15, 1.39x at 16 (1.31x at L = 32).
//   AVX2 float64: 1.15x at 4, 1.41x at 6, 1.38x at 7, 1.24x at 8, 1.26x at 9, 1.46x at 12, 1.34x at
//     13, 1.35x at 14, 1.22x at 15, 0.78x at 16.
//   AVX2 float32: 3.5x at 4, 1.31x at 8, 1.47x at 10, 1.71x at 12, 1.65x at 15, 1.04x at 16.
// (With tiles of 2 × 8 vectors for n > 8, the AVX-512 float64 lanes ran 0.87x at 16, L = 16, and
// 0.91-0.95x at 10-16, L = 8, which kept them to n <= 6 before.)
constexpr std::uint32_t kLaneDimsUpTo15 = (std::uint32_t{1} << 16) - 2;  // bits 1-15
constexpr std::uint32_t kLaneDimsUpTo16 = (std::uint32_t{1} << 17) - 2;  // bits 1-16
constexpr std::uint32_t kAvx512LaneDimsFloat64 = kLaneDimsUpTo15 & ~(std::uint32_t{1} << 8);
constexpr std::uint32_t kAvx512LaneDimsFloat32 = kLaneDimsUpTo16;
constexpr std::uint32_t kAvx2LaneDimsFloat64 = kLaneDimsUpTo15;
constexpr std::uint32_t kAvx2LaneDimsFloat32 = kLaneDimsUpTo16;

// The same on a CPU that runs 512-bit operations as two 256-bit halves (VectorCore::halves, AMD
// Zen 4: EPYC family 19h model 11h, 2 cores, this project's machine on 2026-12-04), the same
// command with medians of 3 rounds:
//   AVX-512 float64: 5.7x at 2, 3.9x at 3, 1.70x at 4, 1.52x at 5, 1.18x at 6, 1.13x at 7, 0.83x
//     at 8 (the fixed-size kernel), 1.90x at 9, 1.79x at 10, 1.69x at 11, 1.68x at 12, 1.83x at
//     13, 1.55x at 14, 1.61x at 15, 1.45x at 16 (its rounds 1.10-1.60).
//   AVX-512 float32: 9.1x at 4, 1.26x at 8, 1.63x at 12, 1.99x at 15, 1.44x at 16.
// So d = 16 in float64 runs in lane groups there too (0.125M against 0.087M network-steps/s: 46.1
// against 32.1 GFLOP/s).
constexpr std::uint32_t kAvx512HalvesLaneDimsFloat64 = kLaneDimsUpTo16 & ~(std::uint32_t{1} << 8);
constexpr std::uint32_t kAvx512HalvesLaneDimsFloat32 = kLaneDimsUpTo16;

// Up to this n the AVX-512 lane kernels hold each element as a pair of vectors (16 float64 or 32
// float32 networks per group): a product's n² chains of n multiply-adds are too few to hide the
// multiply-add latency, and two groups' chains interleave. _core.batch_session, lanes "always",
// B = 1,024, L = 8, gd, one core, network-steps/s with pairs against without (medians of 5):
// float64 165 against 121M at d = 1, 80-83 against 71-72M at 2, 34-35 against 31-35M at 3, and
// 17-18 against 22M at 4 (with tiles of 2×4, 4×2, 1×4 or 4×1 pairs, as the registers allow);
// float32 203 against 162M at 1, 121 against 114M at 2, 57 against 60M at 3.
constexpr int kLanePairMax = 2;

}  // namespace deeplinear::tuning
