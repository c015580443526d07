// Fixed-size instantiations of the training loop for small d (gd and penalty): with d known at
// compile time Eigen unrolls the d×d products and keeps every matrix off the heap. From d = 16
// on, the register-blocked kernel of gemm.cpp is faster (measured: ~25 % at d = 16, L = 16).
#include "run_released.hpp"

namespace deeplinear::bindings {

namespace {

template <class T, int N>
py::tuple run_fixed(LayerStack<T> layers, ConstMatrixMap<T> phi, const MethodParams<T>& params,
                    const LoopOptions& options, const ExecutionContext& context, bool diagnostics) {
    DenseStepper<T, N> stepper(layers, phi, params, context);
    return run_released(stepper, options, context, diagnostics);
}

}  // namespace

template <class T>
std::optional<py::tuple> run_fixed_size(LayerStack<T> layers, ConstMatrixMap<T> phi, const MethodParams<T>& params,
                                        const LoopOptions& options, const ExecutionContext& context, bool diagnostics) {
    switch (layers.dim) {
        case 1: return run_fixed<T, 1>(layers, phi, params, options, context, diagnostics);
        case 2: return run_fixed<T, 2>(layers, phi, params, options, context, diagnostics);
        case 3: return run_fixed<T, 3>(layers, phi, params, options, context, diagnostics);
        case 4: return run_fixed<T, 4>(layers, phi, params, options, context, diagnostics);
        case 5: return run_fixed<T, 5>(layers, phi, params, options, context, diagnostics);
        case 6: return run_fixed<T, 6>(layers, phi, params, options, context, diagnostics);
        case 8: return run_fixed<T, 8>(layers, phi, params, options, context, diagnostics);
        case 12: return run_fixed<T, 12>(layers, phi, params, options, context, diagnostics);
        default: return std::nullopt;
    }
}

template std::optional<py::tuple> run_fixed_size<double>(LayerStack<double>, ConstMatrixMap<double>,
                                                         const MethodParams<double>&, const LoopOptions&,
                                                         const ExecutionContext&, bool);
template std::optional<py::tuple> run_fixed_size<float>(LayerStack<float>, ConstMatrixMap<float>,
                                                        const MethodParams<float>&, const LoopOptions&,
                                                        const ExecutionContext&, bool);

}  // namespace deeplinear::bindings
