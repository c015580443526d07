// The engines of engine.hpp: gd and penalty on the whole-sweep fixed-size stepper where the
// dispatch chooses it (small d), otherwise on DenseStepper (with step-and-project), power
// projection on its own stepper, and the exact spectral dynamics.
#include "stepper_engine.hpp"

#include <cmath>
#include <deeplinear/fixed_stepper.hpp>
#include <deeplinear/power_projection.hpp>
#include <deeplinear/spectral.hpp>
#include <limits>
#include <stdexcept>
#include <string>

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
        EigenOnOneThread scope;
        return this->stepper_.resume(psi);
    }
};

template <class T>
void check_parameter(T value, bool positive, const char* name) {
    if (!std::isfinite(static_cast<double>(value)) || (positive ? !(value > T(0)) : !(value >= T(0)))) {
        throw std::invalid_argument(std::string(name) + " must be a finite number " + (positive ? "> 0" : ">= 0") +
                                    ", got " + std::to_string(static_cast<double>(value)));
    }
}

// What make_engine refuses (engine.hpp): the Python layer checks the same before it gets here.
template <class T>
void check_engine_arguments(const LayerStack<T>& layers, const T* phi, const MethodParams<T>& params) {
    if (layers.depth < 1 || layers.dim < 1) {
        throw std::invalid_argument("the layers' depth and d must be >= 1, got depth " + std::to_string(layers.depth) +
                                    " and d " + std::to_string(layers.dim));
    }
    if (layers.dim > std::numeric_limits<Index>::max() / layers.dim / layers.depth) {
        throw std::invalid_argument("depth * d * d must fit a 64-bit index");
    }
    if (layers.data == nullptr || phi == nullptr) throw std::invalid_argument("the layers and the target are needed");
    check_parameter(params.lr, true, "lr");
    switch (params.method) {
        case Method::gd: break;
        case Method::power_projection: check_parameter(params.gamma, true, "gamma"); break;
        case Method::step_and_project:
            check_parameter(params.psi, true, "psi");
            check_parameter(params.gamma, false, "gamma");
            break;
        case Method::penalty: check_parameter(params.kappa, false, "kappa"); break;
        default: throw std::invalid_argument("unknown method");
    }
}

}  // namespace

template <class T>
std::unique_ptr<Engine<T>> make_engine(LayerStack<T> layers, const T* phi, const MethodParams<T>& params,
                                       const ExecutionContext& context) {
    check_engine_arguments(layers, phi, params);
    const ConstMatrixMap<T> target(phi, layers.dim, layers.dim);
    const typename Engine<T>::Shape shape{layers.depth, layers.dim};
    if (params.method == Method::power_projection) {
        return std::make_unique<PowerProjectionEngine<T>>(context, shape, layers, target, params, context);
    }
    const bool whole_steps = !needs_decompositions(params.method);
    if (choose_backend(context, layers.dim, dtype_of<T>, whole_steps) == Backend::fixed) {
        return std::make_unique<StepperEngine<T, FixedStepper<T>>>(context, shape, layers, target, params, context);
    }
    return std::make_unique<StepperEngine<T, DenseStepper<T>>>(context, shape, layers, target, params, context);
}

template <class T>
std::unique_ptr<Engine<T>> make_spectral_engine(T* a, const T* mu, Index dim, Index depth, T lr) {
    return std::make_unique<StepperEngine<T, SpectralStepper<T>>>(ExecutionContext::make(1),
                                                                  typename Engine<T>::Shape{}, a, mu, dim, depth, lr);
}

template std::unique_ptr<Engine<double>> make_engine<double>(LayerStack<double>, const double*,
                                                             const MethodParams<double>&, const ExecutionContext&);
template std::unique_ptr<Engine<float>> make_engine<float>(LayerStack<float>, const float*, const MethodParams<float>&,
                                                           const ExecutionContext&);
template std::unique_ptr<Engine<double>> make_spectral_engine<double>(double*, const double*, Index, Index, double);
template std::unique_ptr<Engine<float>> make_spectral_engine<float>(float*, const float*, Index, Index, float);

}  // namespace deeplinear
