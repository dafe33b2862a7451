// weft/consensus/raft/raft.hpp - the Raft consensus engine: pure core, log, configurations.
#pragma once

#include "weft/consensus/raft/config_codec.hpp"
#include "weft/consensus/raft/core.hpp"
#include "weft/consensus/raft/log.hpp"
#include "weft/consensus/raft/types.hpp"
