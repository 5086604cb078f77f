#pragma once
// Real outputs of cyclictest and oslat captured on the development VM, for the parser
// tests (tools_test.cpp). Raw strings: byte for byte what the programs printed.
#include <string_view>

namespace rt::bench::fixtures {

// `cyclictest -m -q -t 1 -p 80 -a 1 -i 1000 -l 500 -h 10000 --mainaffinity=0`
// (rt-tests 2.4, this VM). It prints all 10000 rows of its histogram; the empty rows
// past 000002 are cut here.
inline constexpr std::string_view kCyclictestReal = R"(# /dev/cpu_dma_latency set to 0us
# Histogram
000000 000000
000001 000000
000002 000000
000011 000001
000012 000007
000013 000022
000014 000012
000015 000009
000016 000003
000017 000009
000018 000004
000019 000009
000020 000005
000021 000007
000022 000004
000023 000004
000024 000001
000025 000002
000026 000002
000027 000002
000028 000003
000029 000002
000030 000012
000031 000010
000032 000024
000033 000036
000034 000034
000035 000037
000036 000047
000037 000037
000038 000030
000039 000037
000040 000021
000041 000016
000042 000012
000043 000011
000044 000002
000045 000006
000046 000002
000048 000002
000049 000002
000051 000002
000053 000001
000054 000002
000076 000001
000081 000003
000084 000001
000087 000001
000091 000001
000097 000001
003749 000001
# Total: 000000500
# Min Latencies: 00011
# Avg Latencies: 00040
# Max Latencies: 03749
# Histogram Overflows: 00000
# Histogram Overflow at cycle number:
# Thread 0:

)";

// The same with `-l 100 -h 20`: 17 latencies of 20 us or more overflow. Empty rows cut.
inline constexpr std::string_view kCyclictestOverflows = R"(# /dev/cpu_dma_latency set to 0us
# Histogram
000011 000001
000012 000014
000013 000042
000014 000011
000015 000008
000016 000002
000017 000001
000018 000001
000019 000003
# Total: 000000083
# Min Latencies: 00011
# Avg Latencies: 00015
# Max Latencies: 00036
# Histogram Overflows: 00017
# Histogram Overflow at cycle number:
# Thread 0: 00012 00014 00015 00016 00017 00018 00019 00020 00021 00022 00023 00024 00025 00026 00028 00029 00043

)";

// The same run without CAP_SYS_NICE (`setpriv --bounding-set=-sys_nice ...`): exit status 1.
inline constexpr std::string_view kCyclictestNoFifo = R"(Unable to change scheduling policy!
Probably missing capabilities, either run as root or increase RLIMIT_RTPRIO limits.
)";

// `oslat --cpu-list 1 -f 80 -D 2 -b 32 -z` (rt-tests 2.4, this VM): its whole output,
// tabs as it prints them.
inline constexpr std::string_view kOslat32 = R"(oslat V 2.40
Total runtime: 		2 seconds
Thread priority: 	SCHED_FIFO:80
CPU list: 		1
CPU for main thread: 	0
Workload: 		no
Workload mem: 		0 (KiB)
Preheat cores: 		1

Pre-heat for 1 seconds...
Test starts...
Test completed.

        Core:	 1
Counter Freq:	 2597 (Mhz)
    001 (us):	 80463344
    002 (us):	 41
    003 (us):	 177
    004 (us):	 141
    005 (us):	 12
    006 (us):	 2
    007 (us):	 7
    008 (us):	 9
    009 (us):	 13
    010 (us):	 6
    011 (us):	 10
    012 (us):	 8
    013 (us):	 6
    014 (us):	 12
    015 (us):	 22
    016 (us):	 22
    017 (us):	 43
    018 (us):	 73
    019 (us):	 78
    020 (us):	 81
    021 (us):	 56
    022 (us):	 53
    023 (us):	 40
    024 (us):	 35
    025 (us):	 39
    026 (us):	 26
    027 (us):	 30
    028 (us):	 21
    029 (us):	 23
    030 (us):	 23
    031 (us):	 16
    032 (us):	 159 (including overflows)
     Minimum:	 1 (us)
     Average:	 1.002 (us)
     Maximum:	 49902 (us)
     Max-Min:	 49901 (us)
    Duration:	 1.998 (sec)

)";

// `oslat -q --cpu-list 1 -C 0 -f 80 -D 1 -b 1024 -z`: -z replaces runs of empty buckets
// with "...".
inline constexpr std::string_view kOslat1024 = R"(oslat V 2.40
        Core:	 1
Counter Freq:	 2597 (Mhz)
    001 (us):	 40126592
    002 (us):	 927
    003 (us):	 330
    004 (us):	 10
    005 (us):	 6
    006 (us):	 3
    007 (us):	 3
    008 (us):	 7
    009 (us):	 14
    010 (us):	 5
    011 (us):	 5
    012 (us):	 10
    013 (us):	 12
    014 (us):	 15
    015 (us):	 31
    016 (us):	 32
    017 (us):	 29
    018 (us):	 16
    019 (us):	 16
    020 (us):	 17
    021 (us):	 11
    022 (us):	 19
    023 (us):	 10
    024 (us):	 7
    025 (us):	 8
    026 (us):	 12
    027 (us):	 9
    028 (us):	 10
    029 (us):	 6
    030 (us):	 3
    031 (us):	 5
    032 (us):	 9
    033 (us):	 2
    034 (us):	 5
    035 (us):	 5
    036 (us):	 2
    037 (us):	 2
    038 (us):	 5
    039 (us):	 4
    040 (us):	 3
    041 (us):	 2
    042 (us):	 2
    043 (us):	 3
    044 (us):	 4
    045 (us):	 2
    046 (us):	 2
    ...
    048 (us):	 2
    049 (us):	 1
    050 (us):	 4
    051 (us):	 4
    052 (us):	 2
    053 (us):	 2
    ...
    055 (us):	 1
    ...
    057 (us):	 2
    ...
    059 (us):	 2
    ...
    061 (us):	 1
    ...
    068 (us):	 1
    069 (us):	 1
    ...
    074 (us):	 1
    ...
   1024 (us):	 1 (including overflows)
     Minimum:	 1 (us)
     Average:	 1.001 (us)
     Maximum:	 45825 (us)
     Max-Min:	 45824 (us)
    Duration:	 0.998 (sec)

)";

// `oslat -q --cpu-list 0,1 -D 1 -b 16 -z`: one column per measuring thread.
inline constexpr std::string_view kOslatTwoThreads = R"(oslat V 2.40
        Core:	 0 1
Counter Freq:	 2597 2597 (Mhz)
    001 (us):	 37349413 33258904
    002 (us):	 297 809
    003 (us):	 123 345
    004 (us):	 41 55
    005 (us):	 8 6
    006 (us):	 5 6
    007 (us):	 2 4
    008 (us):	 2 6
    009 (us):	 3 6
    010 (us):	 3 5
    011 (us):	 3 4
    012 (us):	 1 5
    013 (us):	 2 6
    014 (us):	 10 1
    015 (us):	 19 7
    016 (us):	 373 430 (including overflows)
     Minimum:	 1 1 (us)
     Average:	 1.004 1.004 (us)
     Maximum:	 14368 12053 (us)
     Max-Min:	 14367 12052 (us)
    Duration:	 1.009 1.013 (sec)

)";

// `oslat -q --cpu-list 1 -f 80 -D 1 -z` without CAP_SYS_NICE: exit status 1 (its
// stdout, buffered, comes after its stderr).
inline constexpr std::string_view kOslatNoFifo = R"(ERROR:
ERROR: TEST(set_fifo_prio(g.rtprio) == 0)
ERROR: at line 421
ERROR: errno=1 (Operation not permitted)
ERROR:
oslat V 2.40
)";

}  // namespace rt::bench::fixtures
