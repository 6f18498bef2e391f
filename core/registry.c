/* placeholder: replaced by the registry implementation */
#include "registry.h"
