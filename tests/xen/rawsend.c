/* rawsend: sends Ethernet frames, given as hex, out of one interface (a guest's tool in the
 * real-Xen lane, where a guest has busybox and no python to craft forged frames with). */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes HEX into BUF; returns the length, or -1 for odd length, a bad digit or overflow. */
static ssize_t decode(const char *hex, unsigned char *buf, size_t size)
{
	size_t n = strlen(hex), i;

	if (n % 2 || n / 2 > size)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	return (ssize_t)(n / 2);
}

int main(int argc, char **argv)
{
	struct sockaddr_ll to = {.sll_family = AF_PACKET};
	unsigned char frame[2048];
	int fd, i;

	if (argc < 3) {
		fprintf(stderr, "usage: rawsend IFACE HEXFRAME...\n");
		return 2;
	}
	to.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (!to.sll_ifindex) {
		perror(argv[1]);
		return 1;
	}
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	for (i = 2; i < argc; i++) {
		ssize_t len = decode(argv[i], frame, sizeof(frame));

		if (len < 14) {
			fprintf(stderr, "rawsend: frame %d is not an Ethernet frame in hex\n",
				i - 1);
			return 2;
		}
		to.sll_halen = 6;
		memcpy(to.sll_addr, frame, 6);
		if (sendto(fd, frame, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to)) != len) {
			perror("sendto");
			return 1;
		}
	}
	close(fd);
	return 0;
}
