// The power-projection stepper of power_projection.hpp, compiled once per scalar type.
#include <deeplinear/power_projection.hpp>

namespace deeplinear {

template class PowerProjectionStepper<double>;
template class PowerProjectionStepper<float>;

}  // namespace deeplinear
