/* SPDX-License-Identifier: Apache-2.0 */
/* Calls judged with their arguments (vm_grade.c). */
#ifndef CKPT_VM_GRADE_H
#define CKPT_VM_GRADE_H

#include "policy_grade.h"
#include "vm.h"

/* Sets a newly resolved name's grading; a call-through that is not allowed
 * has its import finding deferred (the caller then gives none). */
void vm_grade_import(vm *v, node *n, int allowed);
/* A stack copy of a name was made (DUP, memo get). */
static inline void vm_grade_ref(const value *x)
{
    if (x->kind == V_GLOBAL)
        x->u.n->u.g.refs++;
}
/* Judges a call of an imported name with its arguments; 1 when it did
 * (findings given here), 0 when the caller's ordinary judgement applies. */
int vm_grade_call(vm *v, const value *callee, const value *args, const value *kw);
/* Calling what a call-through returned (a partial, a reached attribute). */
void vm_grade_indirect(vm *v, const value *callee);
/* End of a walk: deferred findings of names used other than as graded
 * calls. */
void vm_grade_flush(vm *v);

#endif
