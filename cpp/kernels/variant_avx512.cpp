// The AVX-512 kernels: 512-bit vectors, 32 registers, masked edges (256-bit rows for the
// smallest fixed-size networks). Compiled with -mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2
// -mfma only (see kernel_abi.hpp for why this unit includes nothing that another unit could share).
#include <immintrin.h>

#include "kernel_abi.hpp"
#include "tuning.hpp"

namespace deeplinear::kernels {

namespace {

#include "simd_avx2.inc"
#include "simd_avx512.inc"

template <class T>
struct Simd : Simd512<T> {
    template <int R>
    static inline __attribute__((always_inline)) void transpose_store(const typename Simd512<T>::V* rows, T* dst,
                                                                      Size stride, int cols) {
        transpose_store512<T, R>(rows, dst, stride, cols);
    }
};

template <class T>
struct Narrow : Simd256<T> {
    template <int R>
    static inline __attribute__((always_inline)) void transpose_store(const typename Simd256<T>::V* rows, T* dst,
                                                                      Size stride, int cols) {
        transpose_store256<T, R>(rows, dst, stride, cols);
    }
};

template <bool condition, class A, class B>
struct Select {
    using type = A;
};
template <class A, class B>
struct Select<false, A, B> {
    using type = B;
};

// A row that fits 256 bits goes in a 256-bit register: a 512-bit one would only add masked lanes.
template <class T, int N>
using FixedSimd = typename Select<N * sizeof(T) <= 32, Narrow<T>, Simd<T>>::type;

// clang-format off: in this order, each uses what the one before it defines
#include "tile.inc"
#include "small_kernel.inc"
#include "packed_kernel.inc"
#include "elementwise.inc"
#include "fixed_kernel.inc"
#include "lane_kernel.inc"
#include "table.inc"
// clang-format on

}  // namespace

extern const Table<double> kAvx512Double = make_table<double>();
extern const Table<float> kAvx512Float = make_table<float>();

}  // namespace deeplinear::kernels
