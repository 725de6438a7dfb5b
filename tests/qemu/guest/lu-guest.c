// SPDX-License-Identifier: GPL-2.0
/*
 * lu-guest: a tiny bare-metal guest that shows a VM survived a host kexec
 * (QEMU cpr-reboot migration) without rebooting. It prints to COM1:
 *
 *   lu-guest: boot BOOTID mem MIB            once, at boot
 *   lu-guest: filled N pages                 once, pattern written
 *   lu-guest: boot BOOTID count N pass P bad B   every second
 *   lu-guest: resumed after S s              the clock jumped by S > 2 s
 *   lu-guest: BAD page 0xADDR word K got 0xV want 0xW   (at most 8 times)
 *
 * Every 4 KiB page of [16 MiB, RAM top - 1 MiB) holds 16 words (one every
 * 256 bytes) derived from the page address and the boot id; between ticks
 * the guest re-reads them round-robin, one whole pass at most per second,
 * and sleeps (hlt) for the rest of the second. All its state lives in guest RAM, so
 * after a restore the count simply continues and the boot id is unchanged.
 * Bad words are not repaired: B grows by their number on every pass.
 *
 * Time comes from the CMOS RTC, not the TSC: the guest TSC stops while the
 * VM is stopped (QEMU saves and restores it), so only a wall clock shows
 * how long the VM was away. The RTC follows the host's clock across a
 * migration.
 */
#include <stdint.h>

#define MB_BOOT_MAGIC	0x2badb002
#define MB_INFO_MEM	(1u << 0)
#define MB_INFO_MMAP	(1u << 6)

#define MIB		(1u << 20)
#define PAGE_SIZE	4096u
#define REGION_START	(16 * MIB)
#define WORDS		16	/* checked words per page */
#define WORD_STRIDE	(256 / 4)
#define CHUNK_PAGES	256	/* pages verified between clock reads */
#define MAX_BAD_LINES	8
#define DAY		86400u

#define COM1		0x3f8

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4];
	uint32_t mmap_length, mmap_addr;
};

struct mb_mmap {
	uint32_t size;		/* of the rest of this entry */
	uint64_t addr, len;
	uint32_t type;		/* 1: usable RAM */
} __attribute__((packed));

static uint64_t boot_id;
static uint32_t seed;		/* low half of boot_id, mixed into the pattern */
static uint32_t region_start, region_pages;
static uint32_t count, passes, bad, bad_lines, cursor;
static uint32_t last_sec;	/* RTC second of the day at the last tick */

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);	/* no interrupts: we poll */
	outb(COM1 + 3, 0x80);	/* DLAB on */
	outb(COM1 + 0, 0x01);	/* divisor 1: 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1, DLAB off */
	outb(COM1 + 2, 0xc7);	/* FIFOs on and cleared */
	outb(COM1 + 4, 0x03);	/* DTR, RTS */
}

static void putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))	/* transmit holding register empty */
		;
	outb(COM1, c);
}

static void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

static void puthex(uint32_t v, int digits)
{
	while (digits--)
		putc("0123456789abcdef"[(v >> (digits * 4)) & 0xf]);
}

static void putdec(uint32_t v)
{
	char buf[10];
	int n = 0;

	do
		buf[n++] = '0' + v % 10;
	while (v /= 10);
	while (n)
		putc(buf[--n]);
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* lowbias32: cheap, and every input bit changes the output */
static inline uint32_t hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	return x ^ (x >> 16);
}

static inline uint32_t pattern(uint32_t page, uint32_t k)
{
	return hash32(page ^ k ^ seed);
}

/* NMIs stay masked (bit 7): there is no IDT to take them */
static uint8_t cmos(uint8_t reg)
{
	outb(0x70, 0x80 | reg);
	return inb(0x71);
}

static uint32_t bcd(uint32_t v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

/* The RTC's second of the day; read twice so no update tears it. */
static uint32_t rtc_second(void)
{
	uint8_t s, m, h, b;

	do {
		while (cmos(0x0a) & 0x80)	/* update in progress */
			;
		s = cmos(0x00);
		m = cmos(0x02);
		h = cmos(0x04);
	} while (s != cmos(0x00));
	b = cmos(0x0b);
	if (!(b & 0x04)) {			/* BCD mode */
		s = bcd(s);
		m = bcd(m);
		h = bcd(h & 0x7f) | (h & 0x80);
	}
	if (!(b & 0x02))			/* 12-hour mode: bit 7 is PM */
		h = (h & 0x7f) % 12 + (h & 0x80 ? 12 : 0);
	return (h * 60 + m) * 60u + s;
}

/* RAM top from mem_upper, clipped to the usable map entry holding 16 MiB. */
static uint32_t ram_top(const struct mb_info *mbi, uint32_t *usable_end)
{
	uint64_t top = 1 * MIB + (uint64_t)mbi->mem_upper * 1024;
	uint64_t end = top;

	if (top > 0xfffff000ull)
		top = end = 0xfffff000ull;
	if (mbi->flags & MB_INFO_MMAP) {
		uint32_t p = mbi->mmap_addr;

		end = 0;
		while (p < mbi->mmap_addr + mbi->mmap_length) {
			const struct mb_mmap *e = (const struct mb_mmap *)p;

			if (e->type == 1 && e->addr <= REGION_START &&
			    e->addr + e->len > REGION_START)
				end = e->addr + e->len;
			p += e->size + 4;
		}
		if (end > top)
			end = top;
	}
	*usable_end = end;
	return top;
}

static void fill(void)
{
	for (uint32_t i = 0; i < region_pages; i++) {
		uint32_t page = region_start + i * PAGE_SIZE;
		volatile uint32_t *p = (volatile uint32_t *)page;

		for (uint32_t k = 0; k < WORDS; k++)
			p[k * WORD_STRIDE] = pattern(page, k);
	}
}

static void check_page(uint32_t page)
{
	volatile uint32_t *p = (volatile uint32_t *)page;

	for (uint32_t k = 0; k < WORDS; k++) {
		uint32_t got = p[k * WORD_STRIDE], want = pattern(page, k);

		if (got == want)
			continue;
		bad++;
		if (bad_lines < MAX_BAD_LINES) {
			bad_lines++;
			puts("lu-guest: BAD page 0x");
			puthex(page, 8);
			puts(" word ");
			putdec(k);
			puts(" got 0x");
			puthex(got, 8);
			puts(" want 0x");
			puthex(want, 8);
			puts("\n");
		}
	}
}

static void verify_chunk(void)
{
	uint32_t n = region_pages - cursor;

	if (!region_pages)
		return;
	if (n > CHUNK_PAGES)
		n = CHUNK_PAGES;
	for (uint32_t i = 0; i < n; i++)
		check_page(region_start + (cursor + i) * PAGE_SIZE);
	cursor += n;
	if (cursor == region_pages) {
		cursor = 0;
		passes++;
	}
}

static void tick(void)
{
	count++;
	puts("lu-guest: boot ");
	puthex(boot_id >> 32, 8);
	puthex(boot_id, 8);
	puts(" count ");
	putdec(count);
	puts(" pass ");
	putdec(passes);
	puts(" bad ");
	putdec(bad);
	puts("\n");
}

/*
 * One tick per RTC second. A gap over 2 s means the VM was stopped (saved,
 * host kexec'd, restored): say so and tick once instead of catching up.
 */
static void poll_clock(void)
{
	uint32_t now = rtc_second();
	uint32_t gap = (now + DAY - last_sec) % DAY;

	if (!gap)
		return;
	last_sec = now;
	if (gap > 2) {
		puts("lu-guest: resumed after ");
		putdec(gap);
		puts(" s\n");
		gap = 1;
	}
	while (gap--)
		tick();
}

/*
 * The 8259s remapped to vectors 0x20-0x2f with only IRQ 0 open, and the PIT
 * at 20 Hz: the wake-up of idle().
 */
static void timer_init(void)
{
	const uint16_t div = 1193182 / 20;

	outb(0x20, 0x11);	/* ICW1: init, ICW4 follows */
	outb(0xa0, 0x11);
	outb(0x21, 0x20);	/* ICW2: vector bases */
	outb(0xa1, 0x28);
	outb(0x21, 0x04);	/* ICW3: slave on IRQ 2 */
	outb(0xa1, 0x02);
	outb(0x21, 0x01);	/* ICW4: 8086 mode */
	outb(0xa1, 0x01);
	outb(0x21, 0xfe);	/* masks: IRQ 0 only */
	outb(0xa1, 0xff);
	outb(0x43, 0x34);	/* PIT channel 0, rate generator */
	outb(0x40, div & 0xff);
	outb(0x40, div >> 8);
}

/* Sleeps (hlt, woken by the timer) until the RTC's second changes. */
static void idle(void)
{
	while (rtc_second() == last_sec)
		asm volatile("sti; hlt; cli" ::: "memory");
}

void lu_main(uint32_t magic, const struct mb_info *mbi);

void lu_main(uint32_t magic, const struct mb_info *mbi)
{
	uint32_t top, end;

	serial_init();
	if (magic != MB_BOOT_MAGIC || !(mbi->flags & MB_INFO_MEM)) {
		puts("lu-guest: no multiboot memory info\n");
		return;
	}
	top = ram_top(mbi, &end);
	boot_id = splitmix64(rdtsc() ^ (uint64_t)rtc_second() << 32);
	seed = boot_id;
	region_start = REGION_START;
	if (end >= REGION_START + 2 * MIB)
		region_pages = (end - MIB - REGION_START) / PAGE_SIZE;

	puts("lu-guest: boot ");
	puthex(boot_id >> 32, 8);
	puthex(boot_id, 8);
	puts(" mem ");
	putdec((top + MIB / 2) / MIB);	/* firmware keeps a little of the top */
	puts("\n");

	fill();
	puts("lu-guest: filled ");
	putdec(region_pages);
	puts(" pages\n");

	timer_init();
	last_sec = rtc_second();
	for (;;) {
		verify_chunk();
		poll_clock();
		/* a whole pass done: rest until the next second */
		if (!cursor)
			idle();
	}
}
