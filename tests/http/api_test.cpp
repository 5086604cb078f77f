// placeholder: filled by its unit
#include <gtest/gtest.h>
