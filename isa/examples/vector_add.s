# vector_add: out[i] = x[i] + y[i] for i < n, over a grid of cdiv(n, 128 * 2048) programs.
#
# Each program handles one block of 128 x 2048 fp32 elements (1 MiB per array): element
# pid * 262144 + p * 2048 + i lives in partition p, column i. The tail block is masked with an
# address limit (x + 4n): masked elements load as 0.0 and are not stored.
# Bandwidth: loads go to queues 0..10 and stores to queues 11..15 (2:1, like the traffic), so
# in-order queues never hold a load behind a store that waits for the add; SBUF buffers rotate
# with pid % 3, so the next program's loads overlap this program's add and stores.
.arg x
.arg y
.arg out
.arg n
        arg     r1, x
        arg     r2, y
        arg     r3, out
        arg     r4, n
        shli    r5, r4, 2           # r5 = 4n: bytes per array
        add     r20, r1, r5         # address limits (masked tail)
        add     r21, r2, r5
        add     r22, r3, r5
        pid     r6, 0
        shli    r7, r6, 20          # block byte offset: pid * 262144 * 4
        add     r1, r1, r7
        add     r2, r2, r7
        add     r3, r3, r7
        remi    r8, r6, 3           # SBUF buffer: pid % 3, 24 KiB per partition each
        muli    r10, r8, 24576      # x at +0, y at +8192, out at +16384

        # loads: 11 partition slices of x and y on queues 0..10
        dma.load 0, sb.f32[0:12, r10+0, (1,2048)], hbm.f32[r1+0, (2048,12), (1,2048), limit=r20], 0.0
        dma.load 1, sb.f32[12:24, r10+0, (1,2048)], hbm.f32[r1+98304, (2048,12), (1,2048), limit=r20], 0.0
        dma.load 2, sb.f32[24:36, r10+0, (1,2048)], hbm.f32[r1+196608, (2048,12), (1,2048), limit=r20], 0.0
        dma.load 3, sb.f32[36:48, r10+0, (1,2048)], hbm.f32[r1+294912, (2048,12), (1,2048), limit=r20], 0.0
        dma.load 4, sb.f32[48:60, r10+0, (1,2048)], hbm.f32[r1+393216, (2048,12), (1,2048), limit=r20], 0.0
        dma.load 5, sb.f32[60:72, r10+0, (1,2048)], hbm.f32[r1+491520, (2048,12), (1,2048), limit=r20], 0.0
        dma.load 6, sb.f32[72:84, r10+0, (1,2048)], hbm.f32[r1+589824, (2048,12), (1,2048), limit=r20], 0.0
        dma.load 7, sb.f32[84:95, r10+0, (1,2048)], hbm.f32[r1+688128, (2048,11), (1,2048), limit=r20], 0.0
        dma.load 8, sb.f32[95:106, r10+0, (1,2048)], hbm.f32[r1+778240, (2048,11), (1,2048), limit=r20], 0.0
        dma.load 9, sb.f32[106:117, r10+0, (1,2048)], hbm.f32[r1+868352, (2048,11), (1,2048), limit=r20], 0.0
        dma.load 10, sb.f32[117:128, r10+0, (1,2048)], hbm.f32[r1+958464, (2048,11), (1,2048), limit=r20], 0.0
        dma.load 0, sb.f32[0:12, r10+8192, (1,2048)], hbm.f32[r2+0, (2048,12), (1,2048), limit=r21], 0.0
        dma.load 1, sb.f32[12:24, r10+8192, (1,2048)], hbm.f32[r2+98304, (2048,12), (1,2048), limit=r21], 0.0
        dma.load 2, sb.f32[24:36, r10+8192, (1,2048)], hbm.f32[r2+196608, (2048,12), (1,2048), limit=r21], 0.0
        dma.load 3, sb.f32[36:48, r10+8192, (1,2048)], hbm.f32[r2+294912, (2048,12), (1,2048), limit=r21], 0.0
        dma.load 4, sb.f32[48:60, r10+8192, (1,2048)], hbm.f32[r2+393216, (2048,12), (1,2048), limit=r21], 0.0
        dma.load 5, sb.f32[60:72, r10+8192, (1,2048)], hbm.f32[r2+491520, (2048,12), (1,2048), limit=r21], 0.0
        dma.load 6, sb.f32[72:84, r10+8192, (1,2048)], hbm.f32[r2+589824, (2048,12), (1,2048), limit=r21], 0.0
        dma.load 7, sb.f32[84:95, r10+8192, (1,2048)], hbm.f32[r2+688128, (2048,11), (1,2048), limit=r21], 0.0
        dma.load 8, sb.f32[95:106, r10+8192, (1,2048)], hbm.f32[r2+778240, (2048,11), (1,2048), limit=r21], 0.0
        dma.load 9, sb.f32[106:117, r10+8192, (1,2048)], hbm.f32[r2+868352, (2048,11), (1,2048), limit=r21], 0.0
        dma.load 10, sb.f32[117:128, r10+8192, (1,2048)], hbm.f32[r2+958464, (2048,11), (1,2048), limit=r21], 0.0
        tt      add, sb.f32[0:128, r10+16384, (1,2048)], sb.f32[0:128, r10+0, (1,2048)], sb.f32[0:128, r10+8192, (1,2048)]
        # stores: 5 partition slices on queues 11..15
        dma.store 11, hbm.f32[r3+0, (2048,26), (1,2048), limit=r22], sb.f32[0:26, r10+16384, (1,2048)]
        dma.store 12, hbm.f32[r3+212992, (2048,26), (1,2048), limit=r22], sb.f32[26:52, r10+16384, (1,2048)]
        dma.store 13, hbm.f32[r3+425984, (2048,26), (1,2048), limit=r22], sb.f32[52:78, r10+16384, (1,2048)]
        dma.store 14, hbm.f32[r3+638976, (2048,25), (1,2048), limit=r22], sb.f32[78:103, r10+16384, (1,2048)]
        dma.store 15, hbm.f32[r3+843776, (2048,25), (1,2048), limit=r22], sb.f32[103:128, r10+16384, (1,2048)]
        halt
