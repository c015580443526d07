// The engines of engine.hpp: gd and penalty on the whole-sweep fixed-size stepper where the
// dispatch chooses it (small d), otherwise on DenseStepper (with step-and-project), power
// projection on its own stepper, and the exact spectral dynamics.
#include "stepper_engine.hpp"

#include <deeplinear/fixed_stepper.hpp>
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
        OpenMpThreads scope(this->context_);
        return this->stepper_.resume(psi);
    }
};

}  // namespace

template <class T>
std::unique_ptr<Engine<T>> make_engine(LayerStack<T> layers, const T* phi, const MethodParams<T>& params,
                                       const ExecutionContext& context) {
    const ConstMatrixMap<T> target(phi, layers.dim, layers.dim);
    if (params.method == Method::power_projection) {
        return std::make_unique<PowerProjectionEngine<T>>(context, layers, target, params, context);
    }
    const bool whole_steps = !needs_decompositions(params.method);
    if (choose_backend(context, layers.dim, dtype_of<T>, whole_steps) == Backend::fixed) {
        return std::make_unique<StepperEngine<T, FixedStepper<T>>>(context, layers, target, params, context);
    }
    return std::make_unique<StepperEngine<T, DenseStepper<T>>>(context, layers, target, params, context);
}

template <class T>
std::unique_ptr<Engine<T>> make_spectral_engine(T* a, const T* mu, Index dim, Index depth, T lr) {
    return std::make_unique<StepperEngine<T, SpectralStepper<T>>>(ExecutionContext::make(1), a, mu, dim, depth, lr);
}

template std::unique_ptr<Engine<double>> make_engine<double>(LayerStack<double>, const double*,
                                                             const MethodParams<double>&, const ExecutionContext&);
template std::unique_ptr<Engine<float>> make_engine<float>(LayerStack<float>, const float*, const MethodParams<float>&,
                                                           const ExecutionContext&);
template std::unique_ptr<Engine<double>> make_spectral_engine<double>(double*, const double*, Index, Index, double);
template std::unique_ptr<Engine<float>> make_spectral_engine<float>(float*, const float*, Index, Index, float);

}  // namespace deeplinear
