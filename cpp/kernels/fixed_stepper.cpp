// The fixed-size stepper (fixed_stepper.hpp) on the whole-sweep kernels of the call's instruction
// set.
#include <algorithm>
#include <deeplinear/fixed_stepper.hpp>
#include <stdexcept>

#include "kernel_abi.hpp"
#include "tables.hpp"
#include "tuning.hpp"

namespace deeplinear {

template <class T>
FixedStepper<T>::FixedStepper(LayerStack<T> layers, ConstMatrixMap<T> phi, const MethodParams<T>& params,
                              const ExecutionContext& context)
    : result_(layers), spare_(layers.depth, layers.dim), current_(layers), next_(spare_.view()), phi_(phi),
      context_(context), penalty_(params.method == Method::penalty), kappa_(params.kappa),
      params_{params.lr, T(1) - params.lr * params.kappa, params.lr * params.kappa} {
    const Index dim = layers.dim;
    if ((params.method != Method::gd && params.method != Method::penalty) || dim < 1 || dim > tuning::kFixedMax) {
        throw std::invalid_argument("the fixed-size stepper runs gd and penalty for d <= 12");
    }
    const auto& step = kernels::table<T>(context.isa).fixed[dim];
    forward_ = step.forward;
    backward_ = step.backward;
    prefix_t_.resize(static_cast<std::size_t>(std::max<Index>(layers.depth - 1, 1) * dim * dim));
    residual_.resize(static_cast<std::size_t>(dim * dim));
    work_.resize(static_cast<std::size_t>(2 * dim * dim));
}

template <class T>
T FixedStepper<T>::evaluate() {
    const T loss = forward_(current_.data, current_.depth, phi_.data(), prefix_t_.data(), residual_.data());
    return overflowed_loss(loss, current_.data, current_.size());
}

template <class T>
void FixedStepper<T>::advance() {
    backward_(current_.data, current_.depth, prefix_t_.data(), residual_.data(), params_, penalty_, next_.data,
              work_.data());
    std::swap(current_, next_);
}

template <class T>
void FixedStepper<T>::revert() {
    std::swap(current_, next_);
}

template <class T>
void FixedStepper<T>::finish() {
    if (current_.data != result_.data) std::copy(current_.data, current_.data + current_.size(), result_.data);
    begin();
}

template <class T>
void FixedStepper<T>::set_lr(T lr) {
    params_[0] = lr;
    params_[1] = T(1) - lr * kappa_;
    params_[2] = lr * kappa_;
}

template <class T>
void FixedStepper<T>::diagnose(double* out) {
    if (!diagnostics_) diagnostics_.emplace(current_.depth, current_.dim, context_);
    diagnostics_->compute(current_.as_const(), phi_, out);
}

template class FixedStepper<double>;
template class FixedStepper<float>;

}  // namespace deeplinear
