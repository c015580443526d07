// The diagnostics of diagnostics.hpp, compiled once per scalar type.
#include <algorithm>
#include <cmath>
#include <deeplinear/diagnostics.hpp>
#include <limits>

namespace deeplinear {

namespace {

// The larger or smaller of two values, NaN if either is NaN (std::max and std::min would drop a
// NaN in their second argument): a diagnostic that overflowed says so instead of reporting the
// other layers' value.
double larger(double a, double b) { return std::isnan(b) ? b : std::max(a, b); }
double smaller(double a, double b) { return std::isnan(b) ? b : std::min(a, b); }

}  // namespace

template <class T>
Diagnostics<T>::Diagnostics(Index depth, Index dim, const ExecutionContext& context)
    : sweep_(depth, dim, context), projector_(dim), svd_(dim), work_(dim, dim), gram_(dim, dim), product_(dim, dim),
      gradient_(dim, dim) {}

template <class T>
void Diagnostics<T>::compute(LayerStack<const T> layers, ConstMatrixMap<T> phi, double* out) {
    const Index depth = layers.depth;
    const double loss = static_cast<double>(sweep_.forward(layers, phi));
    double grad_sq = 0.0;
    sweep_.backward(layers, [&](Index, const GradientFactors<T>& gradient) {
        sweep_.gradient(gradient, gradient_.data());
        grad_sq += static_cast<double>(gradient_.squaredNorm());
    });
    double radius = 0.0, min_singular = std::numeric_limits<double>::infinity(), max_singular = 0.0;
    double balancedness = 0.0;
    for (Index i = 0; i < depth; ++i) {
        work_ = layers.layer(i);
        svd_.compute(work_, false);
        const auto& sigma = svd_.singular_values();
        max_singular = larger(max_singular, static_cast<double>(sigma(0)));
        min_singular = smaller(min_singular, static_cast<double>(sigma(sigma.size() - 1)));
        work_.diagonal().array() -= T(1);
        svd_.compute(work_, false);
        radius = larger(radius, static_cast<double>(svd_.singular_values()(0)));
        if (i + 1 < depth) {
            gram_.noalias() = layers.layer(i + 1).transpose() * layers.layer(i + 1);
            gram_.noalias() -= layers.layer(i) * layers.layer(i).transpose();
            balancedness = larger(balancedness, static_cast<double>(gram_.norm()));
        }
    }
    product_ = sweep_.residual() + phi;
    const double layers_count = static_cast<double>(depth);
    const double stated = 4.0 * loss * layers_count * std::pow(std::min(min_singular, 1.0), 2.0 * layers_count);
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

template class Diagnostics<double>;
template class Diagnostics<float>;

}  // namespace deeplinear
