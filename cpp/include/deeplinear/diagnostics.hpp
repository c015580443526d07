// Per-state diagnostics of a trajectory, for the theory of Sec. 3–5 (dl.theory.diagnostics, TrainResult.diagnostics):
//   loss            ℓ = ½‖Θ_{1:L} − Φ‖_F²
//   radius          maxᵢ ‖Θ_i − I‖₂                      (R(t) of Theorem 1, before the max over s ≤ t)
//   min_singular    minᵢ σ_min(Θ_i)                      (1 − a of Lemma 2; ≥ γ^{1/L} in Theorem 3)
//   max_singular    maxᵢ σ_max(Θ_i)                      (1 + z of Lemma 3)
//   grad_norm       ‖∇ℓ‖ = (Σᵢ ‖G_i‖_F²)^{1/2}           (Lemma 1)
//   lemma2_ratio    ‖∇ℓ‖² / (4 ℓ L (1 − a)^{2L}), 1 − a = min(min_singular, 1) (the lemma has
//                   a ≥ 0): Lemma 2 as the paper states it, ≥ ½ by the corrected bound below
//                   (NaN when ℓ = 0). With the paper's ℓ = ½‖E‖² that statement is off by a factor 2:
//                   for L = 1, Θ = I, Φ = 0 the ratio is ½. What holds is
//   lemma2_corrected_ratio  ‖∇ℓ‖² / (2 ℓ L σ^{2(L−1)}) ≥ 1, since ‖G_i‖_F ≥ σ^{L−1} ‖E‖_F for
//                   every i (each G_i is E between products of L − 1 layers) and ‖E‖² = 2ℓ.
//   margin          λ_min((Θ_{1:L} + Θ_{1:L}ᵀ)/2)        (Def. 1; ≥ γ along power projection)
//   balancedness    maxᵢ ‖Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ‖_F   (0 for balanced factors, Def. 3)
#pragma once

#include "common.hpp"
#include "gradient.hpp"
#include "projections.hpp"

#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <limits>

namespace deeplinear {

inline constexpr int kDiagnosticCount = 9;
inline constexpr const char* kDiagnosticNames[kDiagnosticCount] = {
    "loss",         "radius", "min_singular", "max_singular", "grad_norm", "lemma2_ratio",
    "lemma2_corrected_ratio", "margin", "balancedness"};

template <class T>
class Diagnostics {
public:
    Diagnostics(Index depth, Index dim)
        : sweep_(depth, dim), projector_(dim), svd_(dim, dim), work_(dim, dim), gram_(dim, dim), product_(dim, dim), gradient_(dim, dim) {}

    template <class Phi>
    void compute(LayerStack<const T> layers, const Phi& phi, double* out) {
        const Index depth = layers.depth;
        const double loss = static_cast<double>(sweep_.forward(layers, phi));
        double grad_sq = 0.0;
        sweep_.backward(layers, [&](Index, const Matrix<T>& back, const Matrix<T>* prefix) {
            if (prefix) {
                sweep_.gradient(back, *prefix, gradient_);
                grad_sq += static_cast<double>(gradient_.squaredNorm());
            } else {
                grad_sq += static_cast<double>(back.squaredNorm());
            }
        });
        double radius = 0.0, min_singular = std::numeric_limits<double>::infinity(), max_singular = 0.0;
        double balancedness = 0.0;
        for (Index i = 0; i < depth; ++i) {
            work_ = layers.layer(i);
            svd_.compute(work_);
            const auto& sigma = svd_.singularValues();
            max_singular = std::max(max_singular, static_cast<double>(sigma(0)));
            min_singular = std::min(min_singular, static_cast<double>(sigma(sigma.size() - 1)));
            work_.diagonal().array() -= T(1);
            svd_.compute(work_);
            radius = std::max(radius, static_cast<double>(svd_.singularValues()(0)));
            if (i + 1 < depth) {
                gram_.noalias() = layers.layer(i + 1).transpose() * layers.layer(i + 1);
                gram_.noalias() -= layers.layer(i) * layers.layer(i).transpose();
                balancedness = std::max(balancedness, static_cast<double>(gram_.norm()));
            }
        }
        product_ = sweep_.residual() + phi;
        const double layers_count = static_cast<double>(depth);
        const double stated =
            4.0 * loss * layers_count * std::pow(std::min(min_singular, 1.0), 2.0 * layers_count);
        const double corrected = 2.0 * loss * layers_count * std::pow(min_singular, 2.0 * (layers_count - 1.0));
        const double undefined = std::numeric_limits<double>::quiet_NaN();
        out[0] = loss;
        out[1] = radius;
        out[2] = min_singular;
        out[3] = max_singular;
        out[4] = std::sqrt(grad_sq);
        out[5] = loss > 0.0 ? grad_sq / stated : undefined;
        out[6] = loss > 0.0 ? grad_sq / corrected : undefined;
        out[7] = static_cast<double>(projector_.positivity_margin(product_));
        out[8] = balancedness;
    }

private:
    GradientSweep<T> sweep_;
    Projector<T> projector_;
    Eigen::BDCSVD<ColMatrix<T>> svd_;
    ColMatrix<T> work_;
    Matrix<T> gram_, product_, gradient_;
};

}  // namespace deeplinear
