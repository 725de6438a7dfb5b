/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Multiboot v1 entry of lu-guest. The loader (QEMU -kernel) enters here in
 * 32-bit protected mode, paging off, interrupts off, with eax = 0x2badb002
 * and ebx = the multiboot info. It loads its own flat GDT (the loader's is
 * not ours to rely on) and an IDT whose every vector only acknowledges the
 * interrupt controller: the timer interrupt wakes the CPU from hlt, so the
 * guest idles between passes instead of keeping the host CPU busy.
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000002	/* bit 1: give us mem_* and the memory map */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	cld
	mov	%eax, %edx		/* keep the magic; ebx (info) is untouched */
	/* zero .bss here so we don't depend on the loader doing it */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	xor	%eax, %eax
	rep stosb
	mov	$stack_top, %esp
	lgdt	gdt_desc
	ljmp	$0x08, $1f
1:	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%ax, %fs
	mov	%ax, %gs
	/* 256 interrupt gates (code 0x08, present, ring 0) to irq_stub */
	mov	$idt, %edi
	mov	$256, %ecx
	mov	$irq_stub, %eax
2:	mov	%ax, (%edi)
	movw	$0x08, 2(%edi)
	movw	$0x8e00, 4(%edi)
	mov	%eax, %esi
	shr	$16, %esi
	mov	%si, 6(%edi)
	add	$8, %edi
	loop	2b
	lidt	idt_desc
	push	%ebx
	push	%edx
	call	lu_main
3:	hlt
	jmp	3b

/* Any interrupt: end of interrupt to both 8259s (a spurious one included). */
irq_stub:
	push	%eax
	mov	$0x20, %al
	out	%al, $0xa0
	out	%al, $0x20
	pop	%eax
	iret

	.data
	.align 8
gdt:	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: code, flat 4 GiB */
	.quad	0x00cf92000000ffff	/* 0x10: data, flat 4 GiB */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt
idt_desc:
	.word	256 * 8 - 1
	.long	idt

	.bss
	.align 16
	.skip 16384
stack_top:
	.align 8
idt:	.skip	256 * 8

	.section .note.GNU-stack, "", @progbits
