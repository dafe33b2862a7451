// weft/membership/swim/swim.hpp - SWIM + Lifeguard membership: the lifecycle table, the
// wire schema, admission and the pure core. See docs/swim.md.
#pragma once

#include "weft/membership/swim/admission.hpp"
#include "weft/membership/swim/claim_store.hpp"
#include "weft/membership/swim/core.hpp"
#include "weft/membership/swim/errors.hpp"
#include "weft/membership/swim/lifecycle.hpp"
#include "weft/membership/swim/messages.hpp"
#include "weft/membership/swim/options.hpp"
