#include "rt/breaker.hpp"
