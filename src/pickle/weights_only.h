/* SPDX-License-Identifier: Apache-2.0 */
/* Why torch's weights_only unpickler refuses a pickle: the reasons both
 * interpreters give (the fast path must give the same first reason). */
#ifndef CKPT_WEIGHTS_ONLY_H
#define CKPT_WEIGHTS_ONLY_H

#define WO_OPCODE  "uses an opcode weights_only refuses"
#define WO_IMPORT  "imports a name outside torch's weights_only allowlist"
#define WO_BUILD   "BUILD on a type weights_only does not build"
#define WO_SETITEM "SETITEM on something that is not a dict"

#endif
