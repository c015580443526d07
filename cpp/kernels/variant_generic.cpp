// The generic kernels: scalars and the C library's fma, for CPUs without AVX2 and FMA (and every
// CPU that is not x86-64). Compiled without any instruction-set flag (see kernel_abi.hpp for why
// this unit includes nothing that another unit could share).
#include "kernel_abi.hpp"
#include "tuning.hpp"

namespace deeplinear::kernels {

namespace {

#include "simd_generic.inc"

#define DEEPLINEAR_UNROLL

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

extern const Table<double> kGenericDouble = make_table<double>();
extern const Table<float> kGenericFloat = make_table<float>();

}  // namespace deeplinear::kernels
