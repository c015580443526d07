// The kernel table of an instruction set (defined in dispatch.cpp, beside the detection that
// decides which one a call gets).
#pragma once

#include <deeplinear/execution.hpp>

#include "kernel_abi.hpp"

namespace deeplinear::kernels {

// isa must be available (isa_available); ExecutionContext::make ensures it.
template <class T>
const Table<T>& table(Isa isa);

}  // namespace deeplinear::kernels
