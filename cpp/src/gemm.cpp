// The square products of the training loop (see gemm.hpp): a register-blocked kernel for
// small n, OpenBLAS (from the scipy-openblas32 wheel) or Eigen above that.
#include <deeplinear/gemm.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>

#ifdef DEEPLINEAR_BLAS
extern "C" {
// The scipy-openblas32 wheel's library exports the CBLAS interface with a "scipy_" prefix, so
// it never collides with another BLAS in the process (numpy's own OpenBLAS included).
void scipy_cblas_dgemm(int order, int trans_a, int trans_b, int m, int n, int k, double alpha, const double* a,
                       int lda, const double* b, int ldb, double beta, double* c, int ldc);
void scipy_cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a,
                       int lda, const float* b, int ldb, float beta, float* c, int ldc);
void scipy_openblas_set_num_threads(int threads);
}
#endif

namespace deeplinear {

namespace {

std::atomic<int> requested_threads{0};  // 0: the BLAS still has its own default

// Up to this n the small kernel runs (its operands stay in L1/L2 without packing); above it,
// the BLAS. Chosen from measurements on AVX2 (benchmarks/compare.py, docs in README).
constexpr Index kSmallMax = 80;

#if defined(__GNUC__) || defined(__clang__)
#define DEEPLINEAR_VECTOR_KERNEL 1
// One SIMD register of T (GCC/Clang vector extensions): 256-bit with AVX, 128-bit without.
#ifdef __AVX__
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif
template <class T>
struct Simd {
    typedef T type __attribute__((vector_size(kVectorBytes)));
    static constexpr int width = kVectorBytes / static_cast<int>(sizeof(T));
    static type load(const T* p) {
        type v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
    static void store(T* p, const type& v) { std::memcpy(p, &v, sizeof v); }
};

// Rows 0..R of c (columns [0, V·width)) = Σ_k a(r, k) · b[k, ·]; a(r, k) = a[r·ar + k·ak], so a
// row-major a (ar = n, ak = 1) and its transpose (ar = 1, ak = n) cost the same: the scalars
// of a are broadcast, the rows of b are loaded as vectors. R·V accumulators stay in registers.
// With c_t, the tile is also stored transposed there (c_t = cᵀ, so that a later product with
// cᵀ streams rows too): n² scalar stores, against n³ multiply-adds or a separate transpose.
// With scale ≠ 0 the tile is subtracted instead, c ← c − scale·(the product), scaled only once
// the product is complete.
template <class T, int R, int V>
inline void tile(const T* a, Index ar, Index ak, const T* b, T* c, T* c_t, T scale, Index n) {
    using S = Simd<T>;
    typename S::type acc[R][V] = {};
    for (Index k = 0; k < n; ++k) {
        typename S::type row[V];
        for (int v = 0; v < V; ++v) row[v] = S::load(b + k * n + v * S::width);
        for (int r = 0; r < R; ++r) {
            const T scalar = a[r * ar + k * ak];
            for (int v = 0; v < V; ++v) acc[r][v] += scalar * row[v];
        }
    }
    if (scale != T(0)) {
        for (int r = 0; r < R; ++r) {
            for (int v = 0; v < V; ++v) {
                T* out = c + r * n + v * S::width;
                S::store(out, S::load(out) - scale * acc[r][v]);
            }
        }
        return;
    }
    for (int r = 0; r < R; ++r) {
        for (int v = 0; v < V; ++v) S::store(c + r * n + v * S::width, acc[r][v]);
    }
    if (c_t) {
        for (int v = 0; v < V; ++v) {
            for (int lane = 0; lane < S::width; ++lane) {
                for (int r = 0; r < R; ++r) c_t[(v * S::width + lane) * n + r] = acc[r][v][lane];
            }
        }
    }
}

// R consecutive rows of c, all n columns: two-vector tiles, then one-vector, then scalars.
// c_t (optional) points at column `first row` of cᵀ.
template <class T, int R>
inline void row_block(const T* a, Index ar, Index ak, const T* b, T* c, T* c_t, T scale, Index n) {
    constexpr int width = Simd<T>::width;
    Index j = 0;
    for (; j + 2 * width <= n; j += 2 * width) {
        tile<T, R, 2>(a, ar, ak, b + j, c + j, c_t ? c_t + j * n : nullptr, scale, n);
    }
    for (; j + width <= n; j += width) tile<T, R, 1>(a, ar, ak, b + j, c + j, c_t ? c_t + j * n : nullptr, scale, n);
    for (; j < n; ++j) {
        for (int r = 0; r < R; ++r) {
            T sum = T(0);
            for (Index k = 0; k < n; ++k) sum += a[r * ar + k * ak] * b[k * n + j];
            if (scale != T(0)) {
                c[r * n + j] -= scale * sum;
            } else {
                c[r * n + j] = sum;
                if (c_t) c_t[j * n + r] = sum;
            }
        }
    }
}

// c = op(a)·b (and c_t = cᵀ when given). Blocks of 6 rows × 2 vectors: 12 accumulators + 2
// rows of b + 1 broadcast fill the 16 vector registers of AVX2 without spilling.
template <class T>
void small_gemm(const T* a, bool trans_a, const T* b, T* c, T* c_t, T scale, Index n) {
    const Index ar = trans_a ? 1 : n, ak = trans_a ? n : 1;
    constexpr int rows = 6;
    Index i = 0;
    auto t = [&](Index row) { return c_t ? c_t + row : nullptr; };
    for (; i + rows <= n; i += rows) row_block<T, rows>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n);
    switch (n - i) {
        case 5: row_block<T, 5>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 4: row_block<T, 4>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 3: row_block<T, 3>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 2: row_block<T, 2>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 1: row_block<T, 1>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        default: break;
    }
}
#endif

template <class T>
void eigen_gemm(const T* a, bool trans_a, const T* b, bool trans_b, T* c, Index n) {
    const ConstMatrixMap<T> ma(a, n, n), mb(b, n, n);
    MatrixMap<T> mc(c, n, n);
    if (trans_a && trans_b) {
        mc.noalias() = ma.transpose() * mb.transpose();
    } else if (trans_a) {
        mc.noalias() = ma.transpose() * mb;
    } else if (trans_b) {
        mc.noalias() = ma * mb.transpose();
    } else {
        mc.noalias() = ma * mb;
    }
}

#ifdef DEEPLINEAR_BLAS
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
// c = alpha·op(a)·op(b) + beta·c
inline void blas_gemm(const double* a, bool ta, const double* b, bool tb, double* c, int n, double alpha = 1.0,
                      double beta = 0.0) {
    scipy_cblas_dgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, n, n, n, alpha, a, n, b, n, beta, c,
                      n);
}
inline void blas_gemm(const float* a, bool ta, const float* b, bool tb, float* c, int n, float alpha = 1.0f,
                      float beta = 0.0f) {
    scipy_cblas_sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, n, n, n, alpha, a, n, b, n, beta, c,
                      n);
}
#endif

}  // namespace

const char* gemm_backend(Index n) {
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (n <= kSmallMax) return "small";
#endif
#ifdef DEEPLINEAR_BLAS
    if (n <= 0x7fffffff) return "blas";
#endif
    (void)n;
    return "eigen";
}

template <class T>
void gemm(const T* a, bool trans_a, const T* b, bool trans_b, T* c, Index n, T* scratch) {
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (n <= kSmallMax) {
        if (trans_b) {  // the kernel streams rows of b: transpose it once (n² against n³ work)
            MatrixMap<T>(scratch, n, n).noalias() = ConstMatrixMap<T>(b, n, n).transpose();
            b = scratch;
        }
        small_gemm<T>(a, trans_a, b, c, nullptr, T(0), n);
        return;
    }
#endif
    (void)scratch;
#ifdef DEEPLINEAR_BLAS
    if (n <= 0x7fffffff) {
        blas_gemm(a, trans_a, b, trans_b, c, static_cast<int>(n));
        return;
    }
#endif
    eigen_gemm(a, trans_a, b, trans_b, c, n);
}

template <class T>
void gemm_subtract(const T* a, bool trans_a, const T* b, bool trans_b, T scale, T* c, Index n, T* scratch) {
    if (scale == T(0)) return;
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (n <= kSmallMax) {
        if (trans_b) {
            MatrixMap<T>(scratch, n, n).noalias() = ConstMatrixMap<T>(b, n, n).transpose();
            b = scratch;
        }
        small_gemm<T>(a, trans_a, b, c, nullptr, scale, n);
        return;
    }
#endif
#ifdef DEEPLINEAR_BLAS
    if (n <= 0x7fffffff) {  // BLAS kernels scale their accumulated products by alpha, then add
        blas_gemm(a, trans_a, b, trans_b, c, static_cast<int>(n), -scale, T(1));
        return;
    }
#endif
    // Eigen: the product in full into scratch, then scaled and subtracted
    eigen_gemm(a, trans_a, b, trans_b, scratch, n);
    MatrixMap<T>(c, n, n).noalias() -= scale * ConstMatrixMap<T>(scratch, n, n);
}

bool gemm_prefers_transposed(Index n) {
#ifdef DEEPLINEAR_VECTOR_KERNEL
    return n <= kSmallMax;
#else
    (void)n;
    return false;
#endif
}

template <class T>
void gemm_and_transpose(const T* a, bool trans_a, const T* b, T* c, T* c_t, Index n) {
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (n <= kSmallMax) {
        small_gemm<T>(a, trans_a, b, c, c_t, T(0), n);
        return;
    }
#endif
    gemm<T>(a, trans_a, b, false, c, n, nullptr);
    MatrixMap<T>(c_t, n, n).noalias() = ConstMatrixMap<T>(c, n, n).transpose();
}

void set_gemm_threads(int threads) {
    threads = std::max(threads, 1);
    // Process-wide, like the BLAS's own setting: concurrent calls with different counts only
    // change how fast the other runs, never their results.
    if (requested_threads.exchange(threads) == threads) return;
#ifdef DEEPLINEAR_BLAS
    scipy_openblas_set_num_threads(threads);
#endif
}

int gemm_threads() { return std::max(requested_threads.load(), 1); }

template void gemm<double>(const double*, bool, const double*, bool, double*, Index, double*);
template void gemm<float>(const float*, bool, const float*, bool, float*, Index, float*);
template void gemm_subtract<double>(const double*, bool, const double*, bool, double, double*, Index, double*);
template void gemm_subtract<float>(const float*, bool, const float*, bool, float, float*, Index, float*);
template void gemm_and_transpose<double>(const double*, bool, const double*, double*, double*, Index);
template void gemm_and_transpose<float>(const float*, bool, const float*, float*, float*, Index);

}  // namespace deeplinear
