#include "rt/retry.hpp"
