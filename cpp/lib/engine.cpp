// The engines of engine.hpp for dynamic sizes: gradient descent, penalty and step-and-project
// on DenseStepper, power projection on its own stepper, and the exact spectral dynamics.
#include "stepper_engine.hpp"

#include <deeplinear/power_projection.hpp>
#include <deeplinear/spectral.hpp>

namespace deeplinear {

namespace {

// Power projection also keeps Ψ between calls (power_projection.hpp).
template <class T>
class PowerProjectionEngine final : public StepperEngine<T, PowerProjectionStepper<T>> {
public:
    using StepperEngine<T, PowerProjectionStepper<T>>::StepperEngine;

    void state_changed() override { this->stepper_.invalidate(); }
    bool product(T* out) override { return this->stepper_.product(out); }
    bool resume(const T* psi) override {
        ThreadScope scope(this->threads_);
        return this->stepper_.resume(psi);
    }
};

}  // namespace

template <class T>
std::unique_ptr<Engine<T>> make_engine(LayerStack<T> layers, const T* phi, const MethodParams<T>& params,
                                       int threads) {
    const ConstMatrixMap<T> target(phi, layers.dim, layers.dim);
    if (params.method == Method::power_projection) {
        return std::make_unique<PowerProjectionEngine<T>>(threads, layers, target, params);
    }
    if (!needs_decompositions(params.method)) {
        if (auto fixed = make_fixed_size_engine<T>(layers, phi, params, threads)) return fixed;
    }
    return std::make_unique<StepperEngine<T, DenseStepper<T>>>(threads, layers, target, params);
}

template <class T>
std::unique_ptr<Engine<T>> make_spectral_engine(T* a, const T* mu, Index dim, Index depth, T lr) {
    return std::make_unique<StepperEngine<T, SpectralStepper<T>>>(1, a, mu, dim, depth, lr);
}

template std::unique_ptr<Engine<double>> make_engine<double>(LayerStack<double>, const double*,
                                                             const MethodParams<double>&, int);
template std::unique_ptr<Engine<float>> make_engine<float>(LayerStack<float>, const float*,
                                                           const MethodParams<float>&, int);
template std::unique_ptr<Engine<double>> make_spectral_engine<double>(double*, const double*, Index, Index, double);
template std::unique_ptr<Engine<float>> make_spectral_engine<float>(float*, const float*, Index, Index, float);

}  // namespace deeplinear
