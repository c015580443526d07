// The dense stepper of methods.hpp, compiled once per scalar type.
#include <deeplinear/methods.hpp>

namespace deeplinear {

template class DenseStepper<double>;
template class DenseStepper<float>;

}  // namespace deeplinear
