// The square products of the training loop (see gemm.hpp): a register-blocked kernel for
// small n, OpenBLAS (from the scipy-openblas32 wheel) or Eigen above that.
#include <deeplinear/gemm.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

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
    // Rows x0..x3 of a 4×4 block (width 4) stored as its columns at p, p + stride, p + 2·stride,
    // p + 3·stride.
    static void transpose4_store(type x0, type x1, type x2, type x3, T* p, Index stride) {
        const type t0 = shuffle<0, 4, 2, 6>(x0, x1), t1 = shuffle<1, 5, 3, 7>(x0, x1);
        const type t2 = shuffle<0, 4, 2, 6>(x2, x3), t3 = shuffle<1, 5, 3, 7>(x2, x3);
        store(p, shuffle<0, 1, 4, 5>(t0, t2));
        store(p + stride, shuffle<0, 1, 4, 5>(t1, t3));
        store(p + 2 * stride, shuffle<2, 3, 6, 7>(t0, t2));
        store(p + 3 * stride, shuffle<2, 3, 6, 7>(t1, t3));
    }
    // Rows x0, x1 of a 2×4 block (width 4) stored as its columns (2 values each) at p,
    // p + stride, p + 2·stride, p + 3·stride.
    static void transpose2_store(type x0, type x1, T* p, Index stride) {
        const type t0 = shuffle<0, 4, 2, 6>(x0, x1), t1 = shuffle<1, 5, 3, 7>(x0, x1);
        T lanes[8];
        std::memcpy(lanes, &t0, sizeof t0);
        std::memcpy(lanes + 4, &t1, sizeof t1);
        std::memcpy(p, lanes, 2 * sizeof(T));
        std::memcpy(p + stride, lanes + 4, 2 * sizeof(T));
        std::memcpy(p + 2 * stride, lanes + 2, 2 * sizeof(T));
        std::memcpy(p + 3 * stride, lanes + 6, 2 * sizeof(T));
    }
    // Lanes i0..i3 of the concatenation (x, y) (width 4).
    template <int i0, int i1, int i2, int i3>
    static type shuffle(type x, type y) {
#ifdef __clang__
        return __builtin_shufflevector(x, y, i0, i1, i2, i3);
#else
        using Lane = std::conditional_t<sizeof(T) == 8, std::int64_t, std::int32_t>;
        typedef Lane Mask __attribute__((vector_size(kVectorBytes)));
        return __builtin_shuffle(x, y, Mask{i0, i1, i2, i3});
#endif
    }
};

// What a kernel does with its product P = op(a)·b: c = P; c = P and c_t = Pᵀ; or
// c = c_in − scale·P (c_in may be c). c_t and c_in come in one argument, `aux`.
enum class Output { store, store_transposed, subtract };

#define DEEPLINEAR_INLINE inline __attribute__((always_inline))
// Every loop over a tile's rows and vectors unrolls completely: a loop left rolled indexes the
// accumulators at run time and so keeps them on the stack (GCC did, in the store epilogues).
#define DEEPLINEAR_UNROLL _Pragma("GCC unroll 16")

// Rows 0..R of P (columns [0, V·width)) = Σ_k a(r, k) · b[k, ·]; a(r, k) = a[r·ar + k·ak], so a
// row-major a (ar = n, ak = 1) and its transpose (ar = 1, ak = n) cost the same: the scalars
// of a are broadcast, the rows of b are loaded as vectors. R·V accumulators stay in registers
// (the first k initialises them: no zeroing pass). store_transposed also writes the tile into
// c_t = cᵀ (so that a later product with cᵀ streams rows too), by 4×4 and 2×4 transposes in
// registers where a vector holds 4 values and by scalar copies of the rows just stored for the
// rest: n² moves against n³ multiply-adds or a separate transpose. subtract scales the product
// only once it is complete, then subtracts it from c_in; it reads *scale there, through a
// pointer that may alias c, so that the compiler cannot keep the scale in a register during
// the loop (it would spill a row of b for it). Inlined into its callers: at n = 16 a tile is
// ~100 cycles of multiply-adds, and a call with its prologue would cost a third of that again.
template <class T, int R, int V, Output mode>
DEEPLINEAR_INLINE void tile(const T* a, Index ar, Index ak, const T* b, T* c, T* aux, const T* scale, Index n) {
    using S = Simd<T>;
    typename S::type acc[R][V], row[V];
    DEEPLINEAR_UNROLL
    for (int v = 0; v < V; ++v) row[v] = S::load(b + v * S::width);
    DEEPLINEAR_UNROLL
    for (int r = 0; r < R; ++r) {
        const T scalar = a[r * ar];
        DEEPLINEAR_UNROLL
        for (int v = 0; v < V; ++v) acc[r][v] = scalar * row[v];
    }
    for (Index k = 1; k < n; ++k) {
        DEEPLINEAR_UNROLL
        for (int v = 0; v < V; ++v) row[v] = S::load(b + k * n + v * S::width);
        DEEPLINEAR_UNROLL
        for (int r = 0; r < R; ++r) {
            const T scalar = a[r * ar + k * ak];
            DEEPLINEAR_UNROLL
            for (int v = 0; v < V; ++v) acc[r][v] += scalar * row[v];
        }
    }
    DEEPLINEAR_UNROLL
    for (int r = 0; r < R; ++r) {
        DEEPLINEAR_UNROLL
        for (int v = 0; v < V; ++v) {
            T* out = c + r * n + v * S::width;
            if constexpr (mode == Output::subtract) {
                S::store(out, S::load(aux + r * n + v * S::width) - *scale * acc[r][v]);
            } else {
                S::store(out, acc[r][v]);
            }
        }
    }
    if constexpr (mode == Output::store_transposed) {
        int r0 = 0;
        if constexpr (S::width == 4) {  // whole 4×4, then 2×4 blocks transposed in registers
            DEEPLINEAR_UNROLL
            for (; r0 + 4 <= R; r0 += 4) {
                DEEPLINEAR_UNROLL
                for (int v = 0; v < V; ++v) {
                    Simd<T>::transpose4_store(acc[r0][v], acc[r0 + 1][v], acc[r0 + 2][v], acc[r0 + 3][v],
                                              aux + v * 4 * n + r0, n);
                }
            }
            if constexpr (R % 4 >= 2) {
                DEEPLINEAR_UNROLL
                for (int v = 0; v < V; ++v) {
                    Simd<T>::transpose2_store(acc[r0][v], acc[r0 + 1][v], aux + v * 4 * n + r0, n);
                }
                r0 += 2;
            }
        }
        for (int col = 0; col < V * S::width; ++col) {
            DEEPLINEAR_UNROLL
            for (int r = r0; r < R; ++r) aux[col * n + r] = c[r * n + col];
        }
    }
}

// R consecutive rows of c, all n columns: two-vector tiles, then one-vector, then scalars.
// aux points at column `first row` of cᵀ (store_transposed) or at the first row of c_in
// (subtract).
template <class T, int R, Output mode>
DEEPLINEAR_INLINE void row_block(const T* a, Index ar, Index ak, const T* b, T* c, T* aux, const T* scale, Index n) {
    constexpr int width = Simd<T>::width;
    // aux for the tile at `column` (no arithmetic on the null aux of store)
    auto t = [&](Index column) {
        if constexpr (mode == Output::store_transposed) return aux + column * n;
        if constexpr (mode == Output::subtract) return aux + column;
        return aux;
    };
    Index j = 0;
    for (; j + 2 * width <= n; j += 2 * width) tile<T, R, 2, mode>(a, ar, ak, b + j, c + j, t(j), scale, n);
    for (; j + width <= n; j += width) tile<T, R, 1, mode>(a, ar, ak, b + j, c + j, t(j), scale, n);
    for (; j < n; ++j) {
        for (int r = 0; r < R; ++r) {
            T sum = T(0);
            for (Index k = 0; k < n; ++k) sum += a[r * ar + k * ak] * b[k * n + j];
            if constexpr (mode == Output::subtract) {
                c[r * n + j] = aux[r * n + j] - *scale * sum;
            } else {
                c[r * n + j] = sum;
                if constexpr (mode == Output::store_transposed) aux[j * n + r] = sum;
            }
        }
    }
}

// Rows [0, m) of P = op(a)·b into c as `mode` says (a, c and aux already offset to the first
// row). Blocks of 6 rows × 2 vectors: 12 accumulators + 2 rows of b + 1 broadcast fill the 16
// vector registers of AVX2 without spilling.
// Never inlined: inside it, `scale` is a pointer that may alias c (see tile).
template <class T, Output mode>
__attribute__((noinline)) void small_rows(const T* a, Index ar, Index ak, const T* b, T* c, T* aux, const T* scale,
                                          Index m, Index n) {
    constexpr int rows = 6;
    Index i = 0;
    auto t = [&](Index row) {
        if constexpr (mode == Output::store_transposed) return aux + row;
        if constexpr (mode == Output::subtract) return aux + row * n;
        return aux;
    };
    for (; i + rows <= m; i += rows) row_block<T, rows, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n);
    switch (m - i) {
        case 5: row_block<T, 5, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 4: row_block<T, 4, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 3: row_block<T, 3, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 2: row_block<T, 2, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        case 1: row_block<T, 1, mode>(a + i * ar, ar, ak, b, c + i * n, t(i), scale, n); break;
        default: break;
    }
}

// From this n, with threads > 1, the small kernel shares its 6-row blocks among OpenMP threads.
// Below it a product takes a few microseconds, and waking the second thread for each one cost
// more than it saved (whole GD steps at n = 48: 0.65× one thread; n = 64: 1.1–1.2×, n = 80:
// 1.1–1.3×, on this project's shared 2-core machine).
constexpr Index kSmallParallelMin = 64;

// P = op(a)·b into c as `mode` says. Every row of c is computed alike whichever thread takes it,
// so the threads never change a result.
template <class T, Output mode>
void small_gemm(const T* a, bool trans_a, const T* b, T* c, T* aux, const T* scale, Index n) {
    const Index ar = trans_a ? 1 : n, ak = trans_a ? n : 1;
#ifdef DEEPLINEAR_OPENMP
    const int threads = requested_threads.load(std::memory_order_relaxed);
    if (threads > 1 && n >= kSmallParallelMin && !omp_in_parallel()) {
#pragma omp parallel num_threads(threads)
        {
            const Index id = omp_get_thread_num(), count = omp_get_num_threads(), blocks = n / 6;
            const Index first = 6 * (blocks * id / count);
            const Index last = id + 1 == count ? n : 6 * (blocks * (id + 1) / count);
            T* part = aux;
            if constexpr (mode == Output::store_transposed) part = aux + first;
            if constexpr (mode == Output::subtract) part = aux + first * n;
            if (last > first) {
                small_rows<T, mode>(a + first * ar, ar, ak, b, c + first * n, part, scale, last - first, n);
            }
        }
        return;
    }
#endif
    small_rows<T, mode>(a, ar, ak, b, c, aux, scale, n, n);
}

// The kernel on op(b) (store, or subtract from c_in): it streams rows of b, so a transposed b
// is copied once into scratch (n² against n³ work).
template <class T, Output mode>
void small_product(const T* a, bool trans_a, const T* b, bool trans_b, const T* c_in, T* c, const T* scale, Index n,
                   T* scratch) {
    if (trans_b) {
        MatrixMap<T>(scratch, n, n).noalias() = ConstMatrixMap<T>(b, n, n).transpose();
        b = scratch;
    }
    // (the kernel only reads through aux in subtract mode)
    small_gemm<T, mode>(a, trans_a, b, c, const_cast<T*>(c_in), scale, n);
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

enum class Backend { small, blas, eigen };

// The one place that picks the back end for n×n products: the small kernel up to kSmallMax
// (GCC/Clang), the BLAS while n fits its int interface (DEEPLINEAR_BLAS), Eigen otherwise.
Backend backend_for(Index n) {
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (n <= kSmallMax) return Backend::small;
#endif
#ifdef DEEPLINEAR_BLAS
    if (n <= std::numeric_limits<int>::max()) return Backend::blas;
#endif
    (void)n;
    return Backend::eigen;
}

}  // namespace

const char* gemm_backend(Index n) {
    switch (backend_for(n)) {
        case Backend::small: return "small";
        case Backend::blas: return "blas";
        case Backend::eigen: break;
    }
    return "eigen";
}

template <class T>
void gemm(const T* a, bool trans_a, const T* b, bool trans_b, T* c, Index n, T* scratch) {
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (backend_for(n) == Backend::small) {
        small_product<T, Output::store>(a, trans_a, b, trans_b, nullptr, c, nullptr, n, scratch);
        return;
    }
#endif
    (void)scratch;
#ifdef DEEPLINEAR_BLAS
    if (backend_for(n) == Backend::blas) {
        blas_gemm(a, trans_a, b, trans_b, c, static_cast<int>(n));
        return;
    }
#endif
    eigen_gemm(a, trans_a, b, trans_b, c, n);
}

template <class T>
void gemm_subtract(const T* a, bool trans_a, const T* b, bool trans_b, T scale, const T* c_in, T* c, Index n,
                   T* scratch) {
    if (scale == T(0)) {
        if (c_in != c) std::copy(c_in, c_in + n * n, c);
        return;
    }
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (backend_for(n) == Backend::small) {
        small_product<T, Output::subtract>(a, trans_a, b, trans_b, c_in, c, &scale, n, scratch);
        return;
    }
#endif
    if (c_in != c) std::copy(c_in, c_in + n * n, c);  // then in place
#ifdef DEEPLINEAR_BLAS
    if (backend_for(n) == Backend::blas) {  // BLAS kernels scale their accumulated products by alpha, then add
        blas_gemm(a, trans_a, b, trans_b, c, static_cast<int>(n), -scale, T(1));
        return;
    }
#endif
    // Eigen: the product in full into scratch, then scaled and subtracted
    eigen_gemm(a, trans_a, b, trans_b, scratch, n);
    MatrixMap<T>(c, n, n).noalias() -= scale * ConstMatrixMap<T>(scratch, n, n);
}

bool gemm_prefers_transposed(Index n) { return backend_for(n) == Backend::small; }

template <class T>
void gemm_and_transpose(const T* a, bool trans_a, const T* b, T* c, T* c_t, Index n) {
#ifdef DEEPLINEAR_VECTOR_KERNEL
    if (backend_for(n) == Backend::small) {
        small_gemm<T, Output::store_transposed>(a, trans_a, b, c, c_t, nullptr, n);
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
template void gemm_subtract<double>(const double*, bool, const double*, bool, double, const double*, double*, Index,
                                    double*);
template void gemm_subtract<float>(const float*, bool, const float*, bool, float, const float*, float*, Index,
                                   float*);
template void gemm_and_transpose<double>(const double*, bool, const double*, double*, double*, Index);
template void gemm_and_transpose<float>(const float*, bool, const float*, float*, float*, Index);

}  // namespace deeplinear
