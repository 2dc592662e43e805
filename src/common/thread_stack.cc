#include "common/thread_stack.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <mutex>
#include <thread>

namespace embedrec {

namespace {

constexpr int kMaxFrames = 64;
// The handler's own frame and the signal return trampoline come first.
constexpr int kHandlerFrames = 2;

enum State : int { kIdle, kWanted, kWriting, kDone };
std::atomic<int> g_state{kIdle};
std::atomic<pthread_t> g_target{};  // the thread asked for
void* g_frames[kMaxFrames];
int g_count = 0;

int StackSignal() { return SIGRTMIN + 4; }

void OnStackSignal(int) {
  // Only the thread asked for writes: a signal that arrives after its
  // capture timed out finds kIdle, or another thread asked for.
  if (!pthread_equal(pthread_self(), g_target.load())) return;
  int wanted = kWanted;
  if (!g_state.compare_exchange_strong(wanted, kWriting)) return;
  g_count = backtrace(g_frames, kMaxFrames);
  g_state.store(kDone);
}

void Install() {
  static std::once_flag once;
  std::call_once(once, [] {
    void* warm[4];
    backtrace(warm, 4);  // loads the unwinder now, not inside the handler
    struct sigaction sa {};
    sa.sa_handler = OnStackSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(StackSignal(), &sa, nullptr);
  });
}

// The program's own functions, from its symbol table (they are not
// exported, so dladdr names none of them): read from /proc/self/exe the
// first time a stack is described (rare: a stall), then kept.
struct Symbol {
  uint64_t start, size;
  std::string name;
};
const std::vector<Symbol>& OwnSymbols() {
  static const std::vector<Symbol> symbols = [] {
    std::vector<Symbol> out;
    const int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    struct stat st {};
    void* map = ::fstat(fd, &st) == 0 ? ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0)
                                      : MAP_FAILED;
    ::close(fd);
    if (map == MAP_FAILED) return out;
    const auto* base = static_cast<const unsigned char*>(map);
    const auto size = static_cast<uint64_t>(st.st_size);
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
    const bool elf64 = size >= sizeof(Elf64_Ehdr) && std::equal(eh->e_ident, eh->e_ident + SELFMAG, ELFMAG) &&
                       eh->e_ident[EI_CLASS] == ELFCLASS64;
    if (elf64 && eh->e_shoff + uint64_t{eh->e_shnum} * sizeof(Elf64_Shdr) <= size) {
      const auto* sections = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
      for (int i = 0; i < eh->e_shnum; ++i) {
        const Elf64_Shdr& sh = sections[i];
        if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= eh->e_shnum) continue;
        const Elf64_Shdr& strtab = sections[sh.sh_link];
        if (sh.sh_offset + sh.sh_size > size || strtab.sh_offset + strtab.sh_size > size) continue;
        const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh.sh_offset);
        const char* names = reinterpret_cast<const char*>(base + strtab.sh_offset);
        for (uint64_t k = 0; k < sh.sh_size / sizeof(Elf64_Sym); ++k) {
          const Elf64_Sym& sym = syms[k];
          if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_value == 0 || sym.st_name >= strtab.sh_size) continue;
          out.push_back({sym.st_value, sym.st_size, names + sym.st_name});
        }
      }
    }
    ::munmap(map, static_cast<size_t>(st.st_size));
    std::sort(out.begin(), out.end(), [](const Symbol& a, const Symbol& b) { return a.start < b.start; });
    return out;
  }();
  return symbols;
}

// The function of the program's own holding `offset` (from its load
// address), or null.
const Symbol* OwnSymbolAt(uint64_t offset) {
  const auto& symbols = OwnSymbols();
  auto it = std::upper_bound(symbols.begin(), symbols.end(), offset,
                             [](uint64_t x, const Symbol& s) { return x < s.start; });
  if (it == symbols.begin()) return nullptr;
  --it;
  return offset < it->start + std::max<uint64_t>(it->size, 1) ? &*it : nullptr;
}

std::string Demangled(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && d ? d : name;
  std::free(d);
  return out;
}

}  // namespace

std::vector<void*> StackOf(pthread_t thread, std::chrono::milliseconds wait) {
  Install();
  static std::mutex one_at_a_time;
  std::lock_guard lock(one_at_a_time);
  g_target.store(thread);
  g_state.store(kWanted);
  if (pthread_kill(thread, StackSignal()) != 0) {
    g_state.store(kIdle);
    return {};
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (g_state.load() != kDone) {
    if (std::chrono::steady_clock::now() >= deadline) {
      int wanted = kWanted;
      if (g_state.compare_exchange_strong(wanted, kIdle)) return {};  // it never ran the handler
      // It is writing them now: a few microseconds more.
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::vector<void*> out;
  for (int i = kHandlerFrames; i < g_count; ++i) out.push_back(g_frames[i]);
  g_state.store(kIdle);
  return out;
}

std::string DescribeStack(const std::vector<void*>& frames) {
  // Where the program itself is loaded: its frames are named from its symbol table.
  Dl_info self{};
  const void* own_base = dladdr(reinterpret_cast<void*>(&DescribeStack), &self) ? self.dli_fbase : nullptr;
  std::string out;
  char line[160];
  for (size_t i = 0; i < frames.size(); ++i) {
    Dl_info info{};
    const auto addr = reinterpret_cast<uintptr_t>(frames[i]);
    if (!dladdr(frames[i], &info) || !info.dli_fname) {
      std::snprintf(line, sizeof line, "  #%zu 0x%zx\n", i, static_cast<size_t>(addr));
      out += line;
      continue;
    }
    const char* path = info.dli_fname;
    const char* base = path;
    for (const char* p = path; *p; ++p) {
      if (*p == '/') base = p + 1;
    }
    const uint64_t offset = addr - reinterpret_cast<uintptr_t>(info.dli_fbase);
    std::snprintf(line, sizeof line, "  #%zu %s+0x%zx", i, base, static_cast<size_t>(offset));
    out += line;
    std::string name;
    uint64_t from = 0;
    if (info.dli_sname) {
      name = Demangled(info.dli_sname);
      from = addr - reinterpret_cast<uintptr_t>(info.dli_saddr);
    } else if (info.dli_fbase == own_base) {
      if (const Symbol* sym = OwnSymbolAt(offset)) {
        name = Demangled(sym->name.c_str());
        from = offset - sym->start;
      }
    }
    if (!name.empty()) {
      std::snprintf(line, sizeof line, "+0x%zx", static_cast<size_t>(from));
      out += " (" + name + line + ")";
    }
    out += "\n";
  }
  return out;
}

}  // namespace embedrec
