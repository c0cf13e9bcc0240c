/**
 * Made-up chat text for bench/search-bench.ts: English, Chinese and Japanese sentences drawn from
 * small vocabularies with a skewed (Zipf-like) word frequency, plus file names. Deterministic (seeded).
 */

const EN_COMMON = (
  'the to and you a i it is of in that for on we be have this with are at not can will do me my so ' +
  'what if just your about but was get all like know up out now time there good one go see when think ' +
  'meeting today tomorrow please thanks call back send file check need work team lunch later new update ' +
  'project review plan week morning night home office price order ship client email report draft ready'
).split(' ');
const EN_TAIL_SYLLABLES = 'ka lo mi ra to ne su vi de po ran tel mar sen dor lis gan bre fo qua'.split(' ');

const ZH_WORDS = (
  '我们 你们 今天 明天 会议 项目 时间 问题 工作 客户 价格 报告 文件 电话 邮件 计划 已经 可以 需要 知道 ' +
  '北京 上海 周末 晚上 早上 同事 老板 公司 订单 发货 检查 确认 安排 讨论 下午 手机 电脑 朋友 吃饭 ' +
  '学习 数据 系统 服务器 测试 版本 更新 用户 功能 设计'
).split(' ');
const ZH_GLUE = ['的', '了', '在', '是', '和', '也', '都', '就', '还', '去'];

const JA_WORDS = (
  '会議 東京 明日 今日 予定 資料 確認 電話 仕事 お願い 時間 大阪 会社 新しい 連絡 メール ' +
  '週末 天気 ランチ 打ち合わせ プロジェクト 先生 学校 電車 駅 友達 映画 音楽 写真 旅行 秋 夜 ' +
  '京都 報告 担当 来週 準備 変更 完了 対応'
).split(' ');
const JA_PARTICLES = ['が', 'を', 'に', 'は', 'で', 'と', 'の', 'も'];
const JA_ENDINGS = ['します', 'しました', 'です', 'ですか', 'でした', 'ください', 'ありがとう', 'よろしく'];

/** The words the benchmark searches for, placed at known frequencies. */
export const RARE_WORD = 'xylophone';
export const RARE_CJK = '鈴虫';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An index skewed to the front of a list (rank r drawn with weight ~ 1/(r+1)). */
function zipf(random: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(Math.exp(random() * Math.log(n + 1)) - 1));
}

export interface CorpusEntry {
  /** 1 text, 8 file */
  type: number;
  content: string;
  fileName?: string;
}

export function makeCorpus(size: number, seed = 42): CorpusEntry[] {
  const random = rng(seed);
  const pick = <T>(list: T[]) => list[zipf(random, list.length)];
  const tailWord = () => Array.from({ length: 2 + Math.floor(random() * 2) }, () => EN_TAIL_SYLLABLES[Math.floor(random() * EN_TAIL_SYLLABLES.length)]).join('');
  const english = () => {
    const words = Array.from({ length: 4 + Math.floor(random() * 16) }, () => (random() < 0.85 ? pick(EN_COMMON) : tailWord()));
    words[0] = words[0][0].toUpperCase() + words[0].slice(1);
    return `${words.join(' ')}${random() < 0.3 ? '?' : '.'}`;
  };
  const chinese = () => {
    let text = '';
    const n = 3 + Math.floor(random() * 10);
    for (let i = 0; i < n; i++) text += pick(ZH_WORDS) + (random() < 0.5 ? ZH_GLUE[Math.floor(random() * ZH_GLUE.length)] : '') + (i % 4 === 3 ? '，' : '');
    return `${text}。`;
  };
  const japanese = () => {
    let text = '';
    const n = 2 + Math.floor(random() * 6);
    for (let i = 0; i < n; i++) text += pick(JA_WORDS) + JA_PARTICLES[Math.floor(random() * JA_PARTICLES.length)];
    return `${text}${JA_ENDINGS[Math.floor(random() * JA_ENDINGS.length)]}。`;
  };
  const entries: CorpusEntry[] = [];
  for (let i = 0; i < size; i++) {
    const r = random();
    if (r < 0.05) {
      const base = random() < 0.5 ? `${pick(EN_COMMON)}_${tailWord()}_${2020 + Math.floor(random() * 6)}` : `${pick(ZH_WORDS)}${pick(JA_WORDS)}_${Math.floor(random() * 100)}`;
      entries.push({ type: 8, content: '', fileName: `${base}.${['pdf', 'docx', 'xlsx', 'png'][Math.floor(random() * 4)]}` });
    } else if (r < 0.5) entries.push({ type: 1, content: english() });
    else if (r < 0.8) entries.push({ type: 1, content: chinese() });
    else entries.push({ type: 1, content: japanese() });
  }
  // the rare words: in a handful of entries only
  entries[7] = { type: 1, content: `Who left the ${RARE_WORD} in the office?` };
  entries[size - 3] = { type: 1, content: `The ${RARE_WORD} lesson moved to Friday.` };
  entries[11] = { type: 1, content: `秋の夜、${RARE_CJK}が鳴く。` };
  return entries;
}
