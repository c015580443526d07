// Square matrix products for the training loop's hot path: C = op(A)·op(B) on n×n row-major
// matrices stored contiguously. Defined in cpp/src/gemm.cpp (one translation unit):
//   - small n: a register-blocked kernel whose tiles stay in L1 (faster than a general GEMM
//     that packs its operands, for the sizes where packing is not repaid);
//   - medium n (float64, one thread, AVX2 with FMA): a packed kernel that also streams into the
//     cache the matrices its caller names as the next products' (Upcoming);
//   - larger n: the OpenBLAS that the scipy-openblas32 wheel ships (DEEPLINEAR_BLAS), whose
//     GEMM runs near the core's peak; Eigen's GEMM when the build has no BLAS.
#pragma once

#include "common.hpp"

namespace deeplinear {

// Up to three n×n matrices that the products after this one will read or write. A kernel may
// stream them into the cache while it computes, so that the next product does not wait for
// them; only a hint (no result depends on it), ignored by the BLAS and the small kernel.
struct Upcoming {
    const void* matrices[3] = {nullptr, nullptr, nullptr};
};

// c = op(a)·op(b), with op(x) = xᵀ where trans_x. `scratch` holds n·n elements when trans_b
// (the small kernel transposes b into it) and may be null otherwise; c must not alias a, b or
// scratch.
template <class T>
void gemm(const T* a, bool trans_a, const T* b, bool trans_b, T* c, Index n, T* scratch,
          const Upcoming& upcoming = {});

// c = c_in − scale·(op(a)·op(b)): the product (or, in the BLAS, each block of its inner sum) is
// formed before it is scaled, never from a pre-scaled factor, so that every layer's update rounds
// alike; scratch (n·n) is always required. c_in is c (in place) or a matrix that overlaps
// neither c nor scratch (the small kernel reads it as it writes c: no copy); c must not alias a,
// b or scratch.
template <class T>
void gemm_subtract(const T* a, bool trans_a, const T* b, bool trans_b, T scale, const T* c_in, T* c, Index n,
                   T* scratch, const Upcoming& upcoming = {});

// c = op(a)·b and c_t = cᵀ (c, c_t distinct from each other and from a, b).
template <class T>
void gemm_and_transpose(const T* a, bool trans_a, const T* b, T* c, T* c_t, Index n);

// Whether products of n×n matrices are faster with a transposed right factor stored as such
// (gemm(x, false, yᵀ stored, false)) than with gemm(x, false, y, true): true for the small
// kernel, which streams rows of its right factor; the BLAS takes either layout.
bool gemm_prefers_transposed(Index n);

// Threads for one product (set for the duration of a training call): the BLAS's, and from
// n = 64 the small kernel's (OpenMP, its row blocks shared; results identical to one thread).
void set_gemm_threads(int threads);
int gemm_threads();

// Whether the small kernel, with threads > 1, shares a product's row blocks: 0 (the default) as
// timing both ways finds faster while it runs, 1 always, 2 never (for tests: results are the
// same either way).
void set_small_split(int policy);

// Which back end gemm() uses for float64 n×n products with the current threads: "small",
// "medium", "blas" or "eigen".
const char* gemm_backend(Index n);

}  // namespace deeplinear
