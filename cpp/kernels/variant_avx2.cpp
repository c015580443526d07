// The AVX2 kernels: 256-bit vectors and FMA3. Compiled with -mavx2 -mfma only (see
// kernel_abi.hpp for why this unit includes nothing that another unit could share).
#include <immintrin.h>

#include "kernel_abi.hpp"
#include "tuning.hpp"

namespace deeplinear::kernels {

namespace {

#include "simd_avx2.inc"

template <class T>
struct Simd : Simd256<T> {
    template <int R>
    static inline __attribute__((always_inline)) void transpose_store(const typename Simd256<T>::V* rows, T* dst,
                                                                      Size stride, int cols) {
        transpose_store256<T, R>(rows, dst, stride, cols);
    }
};

template <class T, int N>
using FixedSimd = Simd<T>;

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

extern const Table<double> kAvx2Double = make_table<double>();
extern const Table<float> kAvx2Float = make_table<float>();

}  // namespace deeplinear::kernels
