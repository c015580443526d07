// Algorithm 2 (power projection, Sec. 5) with the layers kept in factored form between steps.
//
// After a step the layers are the balanced factorization (Def. 3) of the projected product
// Ψ = U Σ Vᵀ: with R = U Vᵀ, W = R^{1/L}, M = P^{1/L} = V D Vᵀ and D = Σ^{1/L},
//   Θ_j = W^j M W^{−(j−1)},  Θ_{1:j−1} = W^{j−1} M^{j−1},  Θ_{j+1:L} = R M^{L−j} W^{−j}.
// So the gradient of Lemma 1 is G_j = W^j M^{L−j} Rᵀ E M^{j−1} W^{−(j−1)} (E = Ψ − Φ), and
//   Θ_j − η G_j = W^j V B_j Vᵀ W^{−(j−1)},  B_j = D − η D^{L−j} F D^{j−1} = D^{L−j} C D^{j−1},
//   F = Vᵀ Rᵀ E V = Σ − Uᵀ Φ V,  C = D^{2−L} − η F.
// The orthogonal factors telescope in the product of the stepped layers:
//   Θ'_{1:L} = R V B_L ⋯ B_1 Vᵀ = U C (Σ C)^{L−1} Vᵀ.
// One step is then Uᵀ Φ V (2 products), (ΣC)^{L−1} by repeated squaring (at most 2 log₂ L
// products), 3 more products, the projection onto H_γ and one SVD: no chained product of L
// layers, no Schur form, no layers. Entrywise, |C| |ΣC|^{L−1} = |B_L| ⋯ |B_1| (the diagonal
// scalings distribute over the same sums), so the rounding error is bounded as for the product
// of the stepped layers themselves.
//
// The layers are formed (the Schur form of R and 2L products, BalancedFactorizer) only when
// they are observed: at the end of a call and for diagnostics. The stepper keeps the factored
// state from call to call; a run starts from the caller's layers with one ordinary step (a
// gradient sweep and the chained product) when it has none (a new run, or layers changed from
// outside: invalidate()), or from a Ψ given back by resume() (a checkpoint). Then a run split
// over several calls takes exactly the steps of one long call.
//
// A stepped product that cannot be factored (singular to working precision, or R without real
// roots: γ within rounding of 0 relative to ‖Ψ‖, which in practice means the run has blown up)
// is a state with ℓ = +∞: the loop reverts to the last factored state and reports divergence.
#pragma once

#include "common.hpp"
#include "diagnostics.hpp"
#include "execution.hpp"
#include "factorization.hpp"
#include "gemm.hpp"
#include "gradient.hpp"
#include "methods.hpp"
#include "products.hpp"
#include "projections.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace deeplinear {

template <class T>
class PowerProjectionStepper {
public:
    // The products run as `context` says (see execution.hpp).
    PowerProjectionStepper(LayerStack<T> layers, ConstMatrixMap<T> phi, const MethodParams<T>& params,
                           const ExecutionContext& context)
        : result_(layers), spare_(layers.depth, layers.dim), phi_(phi), phi_col_(phi), params_(params),
          context_(context), products_(context, layers.dim), projector_(layers.dim), factorizer_(layers.dim, context),
          scratch_(layers.dim, layers.dim), c_(layers.dim, layers.dim), x_(layers.dim, layers.dim),
          power_(layers.dim, layers.dim), work_(layers.dim, layers.dim), gemm_scratch_(layers.dim, layers.dim) {
        for (State& state : states_) state = State(layers.dim);
    }

    // Starts a run from the current state: the factored one that finish() left (whose factors
    // the caller's layers are), or the caller's layers.
    void begin() {}

    // The caller's layers were changed from outside: start from them, not from Ψ.
    void invalidate() {
        for (State& state : states_) state.factored = false;
    }

    // Continue from Ψ (d×d, row-major), whose balanced factors the caller's layers are; false
    // (and the caller's layers current) if Ψ is not finite or cannot be factored.
    bool resume(const T* psi) {
        State& state = states_[current_];
        state.psi = ConstMatrixMap<T>(psi, result_.dim, result_.dim);
        state.broken = false;
        state.factored = state.psi.allFinite() && decompose(state) &&
                         factorizer_.rotation_roots(state.u, state.v) == FactorStatus::ok;
        return state.factored;
    }

    // Writes Ψ of the current state (row-major) into out and returns true when it is factored.
    bool product(T* out) const {
        const State& state = states_[current_];
        if (!state.factored || state.broken) return false;
        MatrixMap<T>(out, result_.dim, result_.dim) = state.psi;
        return true;
    }

    // ℓ at the current state: ½‖Ψ − Φ‖² when factored, else by the forward sweep (kept for advance()).
    T evaluate() {
        const State& state = states_[current_];
        if (state.broken) return std::numeric_limits<T>::infinity();
        if (state.factored) return T(0.5) * (state.psi - phi_col_).squaredNorm();
        if (!ordinary_) ordinary_.emplace(result_.depth, result_.dim, context_);
        return ordinary_->sweep.forward(result_.as_const(), phi_);
    }

    void advance() {
        const State& state = states_[current_];
        State& next = states_[1 - current_];
        if (state.factored) {
            factored_step(state, next.psi);
        } else {
            ordinary_step(next.psi);
        }
        next.factored = true;
        next.broken = false;
        if (next.psi.allFinite()) {  // else ℓ is not finite: the loop reverts without looking further
            projector_.project_positive(next.psi, params_.gamma, next.psi);
            // Real principal roots: the projected Ψ is γ-positive, so every eigenvalue λ of R has
            // Re λ ≥ γ / σ_max(Ψ) > 0 (R z = λ z, y = P⁻¹z: y*Ψy = λ y*Py); rounding can only
            // break that when γ is within rounding of 0 relative to ‖Ψ‖, where R's Schur form
            // is checked every step, as the layers would need it.
            next.broken = !decompose(next);
            if (!next.broken) {
                const T rounding = T(100) * T(next.sigma.size()) * std::numeric_limits<T>::epsilon() * next.sigma(0);
                if (!(params_.gamma > rounding)) {
                    next.broken = factorizer_.rotation_roots(next.u, next.v) != FactorStatus::ok;
                }
            }
        }
        current_ = 1 - current_;
    }

    void revert() { current_ = 1 - current_; }

    void set_lr(T lr) { params_.lr = lr; }

    // Leaves the current state's layers in the caller's layers; the factored state stays, for
    // the next call.
    void finish() {
        const State& state = states_[current_];
        if (!state.factored || state.broken) return;  // the caller's layers, untouched
        materialize(state, result_);
    }

    void diagnose(double* out) {
        if (!diagnostics_) diagnostics_.emplace(result_.depth, result_.dim, context_);
        const State& state = states_[current_];
        LayerStack<T> layers = result_;
        if (state.factored) {
            layers = spare_.view();
            materialize(state, layers);
        }
        diagnostics_->compute(layers.as_const(), phi_, out);
    }

private:
    struct State {
        State() = default;
        explicit State(Index dim) : psi(dim, dim), u(dim, dim), v(dim, dim), sigma(dim) {}
        ColMatrix<T> psi, u, v;  // Ψ = U diag(σ) Vᵀ
        ColVector<T> sigma;
        bool factored = false;  // false: the state is the caller's layers
        bool broken = false;    // Ψ could not be factored: ℓ = +∞ (see the top of this file)
    };

    // c = op(a)·op(b) for column-major n×n matrices: the row-major gemm computes cᵀ = op(b)ᵀ·op(a)ᵀ.
    void multiply(const ColMatrix<T>& a, bool trans_a, const ColMatrix<T>& b, bool trans_b, ColMatrix<T>& c) {
        products_.multiply(b.data(), trans_b, a.data(), trans_a, c.data(), gemm_scratch_.data());
    }

    // Θ'_{1:L} = U C (ΣC)^{L−1} Vᵀ from the factored state (see the top of this file).
    void factored_step(const State& state, ColMatrix<T>& out) {
        const Index depth = result_.depth;
        const T lr = params_.lr;
        multiply(phi_col_, false, state.v, false, work_);  // Φ V
        multiply(state.u, true, work_, false, c_);         // Uᵀ Φ V
        c_ *= lr;                                          // C = D^{2−L} − η (Σ − Uᵀ Φ V)
        c_.diagonal().array() += state.sigma.array().pow(T(2 - depth) / T(depth)) - lr * state.sigma.array();
        const ColMatrix<T>* tail = &c_;  // C (ΣC)^{L−1}
        if (depth > 1) {
            x_ = c_;
            x_.array().colwise() *= state.sigma.array();  // ΣC
            power(depth - 1);
            multiply(c_, false, power_, false, work_);
            tail = &work_;
        }
        multiply(state.u, false, *tail, false, scratch_);
        multiply(scratch_, false, state.v, true, out);
    }

    // power_ = x_^n (n ≥ 1) by repeated squaring from the leading bit.
    void power(Index n) {
        int bit = 0;
        while ((n >> (bit + 1)) != 0) ++bit;
        power_ = x_;
        for (--bit; bit >= 0; --bit) {
            multiply(power_, false, power_, false, scratch_);
            power_.swap(scratch_);
            if ((n >> bit) & 1) {
                multiply(power_, false, x_, false, scratch_);
                power_.swap(scratch_);
            }
        }
    }

    // Θ'_{1:L} of the caller's layers by a gradient sweep (evaluate() ran the forward half).
    void ordinary_step(ColMatrix<T>& out) {
        const T lr = params_.lr;
        LayerStack<T> stepped = spare_.view();
        GradientSweep<T>& sweep = ordinary_->sweep;
        sweep.backward(result_.as_const(), [&](Index i, const GradientFactors<T>& gradient) {
            sweep.subtract_gradient(gradient, lr, result_.layer(i).data(), stepped.layer(i).data());
        });
        chain_product(stepped.as_const(), ordinary_->product, ordinary_->scratch, products_);
        out = ordinary_->product;
    }

    // The SVD of state.psi into the state; false if Ψ is singular to working precision.
    bool decompose(State& state) {
        factorizer_.decompose(state.psi);
        state.u = factorizer_.u();
        state.v = factorizer_.v();
        state.sigma = factorizer_.sigma();
        return state.sigma.allFinite() && !BalancedFactorizer<T>::is_singular(state.sigma);
    }

    // The layers of a factored state (advance() checked that they exist).
    void materialize(const State& state, LayerStack<T> out) {
        const FactorStatus status = factorizer_.factor_svd(state.u, state.sigma, state.v, out);
        if (status != FactorStatus::ok) {
            throw std::runtime_error("power projection: a checked product lost its balanced factorization");
        }
    }

    LayerStack<T> result_;
    OwnedStack<T> spare_;  // the stepped layers of an ordinary step; layers formed for diagnostics
    ConstMatrixMap<T> phi_;
    ColMatrix<T> phi_col_;
    MethodParams<T> params_;
    ExecutionContext context_;
    Products<T> products_;
    Projector<T> projector_;
    BalancedFactorizer<T> factorizer_;
    std::optional<Diagnostics<T>> diagnostics_;
    // The work of an ordinary step (gradient sweep, chained product): only for a call that starts
    // from the caller's layers rather than from Ψ.
    struct Ordinary {
        Ordinary(Index depth, Index dim, const ExecutionContext& context)
            : sweep(depth, dim, context), product(dim, dim), scratch(dim, dim) {}
        GradientSweep<T> sweep;
        Matrix<T> product, scratch;
    };
    std::optional<Ordinary> ordinary_;
    State states_[2];
    int current_ = 0;
    ColMatrix<T> scratch_, c_, x_, power_, work_, gemm_scratch_;
};

// Compiled in cpp/core/power_projection.cpp.
extern template class PowerProjectionStepper<double>;
extern template class PowerProjectionStepper<float>;

}  // namespace deeplinear
