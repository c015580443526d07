// Fixed-size engines for small d (gd and penalty): with d known at compile time Eigen unrolls
// the d×d products and keeps every matrix off the heap. From d = 16 on, the register-blocked
// kernel of the dynamic path is faster (measured: ~25 % at d = 16, L = 16).
#include "stepper_engine.hpp"

namespace deeplinear {

namespace {

template <class T, int N>
std::unique_ptr<Engine<T>> fixed(LayerStack<T> layers, const T* phi, const MethodParams<T>& params, int threads) {
    const ConstMatrixMap<T> target(phi, layers.dim, layers.dim);
    return std::make_unique<StepperEngine<T, DenseStepper<T, N>>>(threads, layers, target, params);
}

}  // namespace

template <class T>
std::unique_ptr<Engine<T>> make_fixed_size_engine(LayerStack<T> layers, const T* phi, const MethodParams<T>& params,
                                                  int threads) {
    switch (layers.dim) {
        case 1: return fixed<T, 1>(layers, phi, params, threads);
        case 2: return fixed<T, 2>(layers, phi, params, threads);
        case 3: return fixed<T, 3>(layers, phi, params, threads);
        case 4: return fixed<T, 4>(layers, phi, params, threads);
        case 5: return fixed<T, 5>(layers, phi, params, threads);
        case 6: return fixed<T, 6>(layers, phi, params, threads);
        case 8: return fixed<T, 8>(layers, phi, params, threads);
        case 12: return fixed<T, 12>(layers, phi, params, threads);
        default: return nullptr;
    }
}

template std::unique_ptr<Engine<double>> make_fixed_size_engine<double>(LayerStack<double>, const double*,
                                                                        const MethodParams<double>&, int);
template std::unique_ptr<Engine<float>> make_fixed_size_engine<float>(LayerStack<float>, const float*,
                                                                      const MethodParams<float>&, int);

}  // namespace deeplinear
