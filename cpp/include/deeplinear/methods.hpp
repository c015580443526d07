// One step of each training method of the paper, on a stack of layers.
//   gd (Sec. 3.1, Algorithm 1):        Θ_i ← Θ_i − η G_i
//   penalty (Sec. 6, Theorem 4):       Θ_i ← Θ_i − η (G_i + κ (Θ_i − I))
//   step_and_project (Sec. 6, Thm 5):  Θ_i ← Π_ψ(Θ_i − η G_i), Π_ψ onto {‖A − I‖₂ ≤ ψ}
//   power_projection (Sec. 5, Alg. 2): Θ ← balanced factors of Π_{H_γ}(Θ'_{1:L}), Θ' = Θ − ηG
//                                      (its own stepper, power_projection.hpp)
// All layers move simultaneously: the step reads the current stack and writes the next one.
#pragma once

#include "common.hpp"
#include "diagnostics.hpp"
#include "execution.hpp"
#include "gradient.hpp"
#include "projections.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>

namespace deeplinear {

enum class Method { gd, penalty, step_and_project, power_projection };
// The methods' names, in the order of Method: the one list the Python package checks its own
// method table against.
inline constexpr std::size_t kMethodCount = 4;
inline constexpr const char* kMethodNames[kMethodCount] = {"gd", "penalty", "step_and_project", "power_projection"};

template <class T>
struct MethodParams {
    Method method = Method::gd;
    T lr = T(0);
    T gamma = T(0);  // power_projection: the H_γ margin
    T psi = T(0);    // step_and_project: the radius of the ball around I
    T kappa = T(0);  // penalty: the weight of (κ/2) Σ‖I − Θ_i‖_F²
};

// Whether a method needs decompositions (projections, factorizations); gd and penalty also have
// fixed-size kernels for small d (fixed_stepper.hpp).
inline bool needs_decompositions(Method method) {
    return method == Method::power_projection || method == Method::step_and_project;
}

// The state of a run: the caller's layers plus one spare stack, swapped after every step so
// that the previous state survives a step that turns out non-finite (then revert()).
template <class T>
class DenseStepper {
public:
    // The products run as `context` says (see execution.hpp).
    DenseStepper(LayerStack<T> layers, ConstMatrixMap<T> phi, const MethodParams<T>& params,
                 const ExecutionContext& context)
        : result_(layers), spare_(layers.depth, layers.dim), current_(layers), next_(spare_.view()),
          phi_(phi.data(), layers.dim, layers.dim), params_(params), context_(context),
          sweep_(layers.depth, layers.dim, context) {
        if (params.method == Method::power_projection) {
            throw std::invalid_argument("power projection runs on PowerProjectionStepper");
        }
        if (needs_decompositions(params.method)) projector_.emplace(layers.dim);
    }

    // Starts a run (or a look) from the caller's layers: finish() left them current.
    void begin() {
        current_ = result_;
        next_ = spare_.view();
    }

    // ℓ at the current state (the forward sweep, kept for the next advance()).
    T evaluate() { return sweep_.forward(current_.as_const(), phi_, next_.data); }

    // Writes the next state from the current one; evaluate() must have run on the current state.
    void advance() {
        const T lr = params_.lr;
        const T decay = T(1) - lr * params_.kappa;
        const T pull = lr * params_.kappa;
        sweep_.backward(
            current_.as_const(),
            [&](Index i, const GradientFactors<T>& gradient) {
                auto next = next_.layer(i);
                auto current = current_.layer(i);
                // What the gradient is subtracted from: the current layer (read by the product's
                // kernel as it writes the next one), or its decayed copy. The copy goes where the
                // update does not (so that the packed kernel keeps its partial sums in the update,
                // as for gd): into layer i − 1 of the next stack, which the sweep (last layer
                // first) has yet to write, or for the first layer into a matrix the sweep has done
                // with; in place only for the first layer of two.
                const T* from = current.data();
                if (params_.method == Method::penalty) {
                    T* copy = i > 0 ? next_.layer(i - 1).data() : sweep_.spent_matrix(current_.depth);
                    if (copy == nullptr) copy = next.data();
                    MatrixMap<T> decayed(copy, current_.dim, current_.dim);
                    decayed = decay * current;
                    decayed.diagonal().array() += pull;
                    from = copy;
                }
                // G_i in full, then scaled: η·(B Pᵀ), never (ηB)Pᵀ. With the same rounding for every
                // layer, dynamics that are symmetric in exact arithmetic (Lemma 5: equal layers for
                // symmetric Φ in its eigenbasis) stay exactly symmetric in floating point.
                sweep_.subtract_gradient(gradient, lr, from, next.data());
                if (params_.method == Method::step_and_project)
                    projector_->project_identity_ball(next, params_.psi, next);
            },
            next_.data);
        std::swap(current_, next_);
    }

    // Back to the state before the last advance().
    void revert() { std::swap(current_, next_); }

    void set_lr(T lr) { params_.lr = lr; }

    // Leaves the current state in the caller's layers (and current again, as after begin()).
    void finish() {
        if (current_.data != result_.data) std::copy(current_.data, current_.data + current_.size(), result_.data);
        begin();
    }

    // The diagnostics of diagnostics.hpp at the current state into out[0 .. kDiagnosticCount).
    void diagnose(double* out) {
        if (!diagnostics_) diagnostics_.emplace(current_.depth, current_.dim, context_);
        diagnostics_->compute(current_.as_const(), ConstMatrixMap<T>(phi_.data(), current_.dim, current_.dim), out);
    }

private:
    LayerStack<T> result_;
    OwnedStack<T> spare_;
    LayerStack<T> current_, next_;
    ConstMatrixMap<T> phi_;
    MethodParams<T> params_;
    ExecutionContext context_;
    GradientSweep<T> sweep_;
    std::optional<Projector<T>> projector_;
    std::optional<Diagnostics<T>> diagnostics_;
};

// Compiled in cpp/core/methods.cpp.
extern template class DenseStepper<double>;
extern template class DenseStepper<float>;

}  // namespace deeplinear
