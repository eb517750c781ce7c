/* The opcode table, indexed by byte. */
#include "opcodes.h"

const opcode_info opcode_table[256] = {
#define X(name, byte, arg, proto, wo) [byte] = {#name, arg, proto, wo},
    OPCODE_LIST(X)
#undef X
};
