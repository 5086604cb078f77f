#include "rt/dead_letter.hpp"
