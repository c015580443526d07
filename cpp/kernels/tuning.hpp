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
constexpr std::int64_t kFixedMax = 12;

// Up to this n the small kernel runs (its operands stay in L1/L2 without packing); above it the
// packed kernel or the BLAS. Measured with AVX2 tiles (benchmarks/compare.py, whole GD steps).
constexpr std::int64_t kSmallMax = 80;

// Up to this n (float64) the packed kernel runs; above it the BLAS. Whole GD steps against the
// BLAS (C++ harness, alternating runs, medians), AVX2 tiles: d = 96, L = 16 1.14×; d = 128,
// L = 32 1.20×; d = 160 1.14×; d = 192 1.13×; d = 224 0.99×, 256 1.00×, 512 0.88× (its packed
// op(b), n² values with no blocking of the inner dimension, crowds the L2 above 192).
constexpr std::int64_t kPackedMax = 192;

// -- tile shapes of the kernels (rows × vectors of the instruction set's width) ----------------

// AVX2 (16 vector registers): 6 rows × 2 vectors, 12 accumulators + 2 rows of op(b) + 1 broadcast.
constexpr int kAvx2SmallRows = 6, kAvx2SmallVectors = 2;
constexpr int kAvx2PackedRows = 6, kAvx2PackedVectors = 2;
// AVX-512 (32 vector registers): 8 rows (8×8 register transposes) × 2 vectors for the small
// kernel (n = 16 is one tile wide; 16 accumulators hide the fma latency), × 3 vectors for the
// packed kernel (24 accumulators + 3 rows of op(b); the broadcasts ride in the multiply-adds'
// memory operands).
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
constexpr std::int64_t kSplitSettle = 4;
constexpr std::int64_t kSplitShortest = 1024;
constexpr std::int64_t kSplitLongest = std::int64_t{1} << 16;

// -- the packed kernel's prefetch of the next products' operands ---------------------------

// One cache line of the Upcoming matrices is prefetched every this many steps of a tile's inner
// loop (paced so that the last line is requested with the product's last tiles).
constexpr std::int64_t kPrefetchEvery = 8;

}  // namespace deeplinear::tuning
