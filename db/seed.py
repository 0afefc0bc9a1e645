"""A deterministic, synthetic DTSEN extract of Kota Bogor for demos and benchmarks.

Nobody in it exists. Names are drawn from short lists of common Sundanese and Indonesian given
names (by generation), addresses from generic street names; NIK and No. KK have a valid
structure (region code, DDMMYY, serial) but are made up.

What it looks like:
- households spread over every kelurahan of the region file (the first ones cycle through all
  of them, so 68 households already cover Kota Bogor), RW 01–15, RT 01–10;
- 1–7 people per household (about 3.9 on average): a KEPALA_KELUARGA (about one in five a
  woman), usually a spouse, children, sometimes an elder parent (some 70+), sometimes a
  grandchild or other relative; about 3% of people have disabilitas = 1;
- NIK: 3271 + a Kota Bogor kecamatan, mostly the household's own, about 1 in 10 from another
  regency (people who moved in); women DD+40; DDMMYY = tanggal_lahir; serials unique;
- No. KK: the household's kecamatan, a past data-entry date, a unique serial;
- desil skewed towards the poor (the chat's audience), every desil present;
- programmes mostly follow the rules in programs.toml (PKH for desil 1–4 with a component,
  BPNT and PBI for desil 1–5, KIP for school children, ...) with the noise residents report:
  exclusion errors (eligible households holding nothing) and inclusion errors (e.g. desil 7
  holding BPNT). Household programmes (PKH, BPNT, BLT, KUBE, UEP) are on the head's row,
  personal ones (PBI, KIP, KIP Kuliah, Pelatihan) on each person's row.

The same arguments give a byte-identical file (one random.Random(seed), no hash ordering, no
clock). The first five households are the demo cases returned by write_demo_csv.
"""

from __future__ import annotations

import asyncio
import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from db.database import Database
from db.dtsen_import import ImportReport, import_dtsen
from db.schema import households as households_table
from domain.dtsen import COLUMNS
from domain.programs import ProgramsConfig
from domain.region import Region

__all__ = ["DemoCase", "database_is_empty", "seed_demo", "write_demo_csv", "DEMO_FILE"]

DEMO_FILE = "dtsen_demo.csv"  # written in the data_dir given to seed_demo (e.g. data/demo)


@dataclass(frozen=True, slots=True)
class DemoCase:
    label: str
    nik: str  # the KEPALA_KELUARGA's NIK
    no_kk: str
    desil: int


# Given names by generation (born before 1975, 1975–1994, from 1995). Common names only.
_MALE = (
    (
        "Dadang",
        "Ujang",
        "Oding",
        "Eman",
        "Engkos",
        "Acep",
        "Dudung",
        "Maman",
        "Oman",
        "Karna",
        "Entis",
        "Odang",
        "Encep",
        "Atang",
        "Usep",
        "Endang",
        "Apud",
        "Didin",
        "Ahmad",
        "Suhendar",
    ),
    (
        "Asep",
        "Dede",
        "Agus",
        "Budi",
        "Hendra",
        "Wawan",
        "Yayan",
        "Iwan",
        "Jajang",
        "Cecep",
        "Dedi",
        "Rudi",
        "Ade",
        "Deni",
        "Yusuf",
        "Rahmat",
        "Hendi",
        "Irwan",
        "Ridwan",
        "Heri",
    ),
    (
        "Rizky",
        "Fajar",
        "Dimas",
        "Gilang",
        "Raka",
        "Alif",
        "Naufal",
        "Reza",
        "Ilham",
        "Fikri",
        "Rafi",
        "Arya",
        "Bayu",
        "Farhan",
        "Haikal",
        "Rangga",
        "Aditya",
        "Galih",
        "Zidan",
        "Azka",
    ),
)
_FEMALE = (
    (
        "Euis",
        "Enung",
        "Imas",
        "Iyah",
        "Onih",
        "Cicih",
        "Entin",
        "Enok",
        "Iceu",
        "Omah",
        "Popon",
        "Eti",
        "Juju",
        "Nani",
        "Otih",
        "Aas",
        "Empat",
        "Titin",
        "Ai",
        "Aminah",
    ),
    (
        "Rina",
        "Lilis",
        "Neneng",
        "Yati",
        "Dewi",
        "Sri",
        "Tuti",
        "Iis",
        "Nining",
        "Yuli",
        "Rika",
        "Nurul",
        "Siti",
        "Eneng",
        "Wulan",
        "Lina",
        "Rini",
        "Yanti",
        "Ratna",
        "Fitri",
    ),
    (
        "Nabila",
        "Aisyah",
        "Salsabila",
        "Zahra",
        "Keisha",
        "Putri",
        "Anisa",
        "Nayla",
        "Citra",
        "Alya",
        "Syifa",
        "Tiara",
        "Azzahra",
        "Aulia",
        "Hana",
        "Kirana",
        "Dinda",
        "Rahma",
        "Sekar",
        "Nadia",
    ),
)
_SECOND = (
    "Suryana",
    "Hidayat",
    "Kurniawan",
    "Permana",
    "Saputra",
    "Setiawan",
    "Nugraha",
    "Rahayu",
    "Lestari",
    "Hermawan",
    "Gunawan",
    "Sudrajat",
    "Supriatna",
    "Rohendi",
    "Mulyana",
    "Sumarna",
    "Hasanah",
    "Nurhayati",
    "Kartika",
    "Maulana",
    "Ramdani",
    "Firmansyah",
    "Kusnadi",
    "Sopian",
    "Hamdani",
    "Rosmiati",
    "Komariah",
    "Sulastri",
    "Wijaya",
    "Pratama",
    "Ramadhan",
    "Fauzi",
    "Sutisna",
    "Kosasih",
    "Suhendra",
    "Wulandari",
    "Handayani",
    "Anggraeni",
    "Nurjanah",
    "Suganda",
)
_STREETS = (
    "Jl. Mawar",
    "Jl. Melati",
    "Jl. Kenanga",
    "Jl. Flamboyan",
    "Jl. Anggrek",
    "Jl. Dahlia",
    "Jl. Cempaka",
    "Jl. Kemuning",
    "Jl. Sawo",
    "Jl. Nangka",
    "Jl. Manggis",
    "Jl. Rambutan",
    "Jl. Durian",
    "Jl. Pala",
    "Jl. Cengkeh",
    "Gg. Masjid",
    "Gg. Mushola",
    "Gg. Sukamaju",
    "Gg. Hj. Saman",
    "Gg. Bakti",
    "Kp. Sawah",
    "Kp. Babakan",
    "Kp. Pasir",
    "Kp. Lebak",
    "Kp. Cibeureum",
    "Kp. Sukasari",
    "Jl. Raya",
    "Jl. Pesantren",
    "Jl. Pelita",
    "Jl. Swadaya",
)
# Where movers' NIKs were issued (province + regency + kecamatan): Kab. Bogor, Sukabumi,
# Cianjur, Kab. Bandung, Garut, Kota Bandung, Bekasi, Depok, Jakarta, Tangerang Selatan,
# Brebes, Cilacap, Lampung. Only the structure matters here.
_MOVERS = (
    "320101",
    "320104",
    "320115",
    "320201",
    "320305",
    "320412",
    "320507",
    "327301",
    "327502",
    "327604",
    "317101",
    "317203",
    "317405",
    "367403",
    "332907",
    "330112",
    "187102",
)
_HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6, 7)
_SIZE_WEIGHTS = (8, 12, 20, 25, 18, 10, 7)  # mean ≈ 3.9
_DESIL_WEIGHTS = (13, 12, 11, 11, 10, 10, 9, 9, 8, 7)  # the poor over-represented


def _cum(weights) -> list[int]:
    out, total = [], 0
    for w in weights:
        total += w
        out.append(total)
    return out


class _Generator:
    def __init__(self, rng: random.Random, region: Region, programs: ProgramsConfig, today: date):
        self.rng = rng
        self.today = today
        self.kelurahan = list(region.kelurahan)
        self.kec_codes = [k.code for k in region.kecamatan]
        self.kec_name = {k.code: k.name for k in region.kecamatan}
        self.nik_serial: dict[str, int] = {}
        self.kk_serial: dict[str, int] = {}
        self.known = programs.known_codes()
        self.child_max = programs.child_max_age
        self.elder_min = programs.elder_min_age
        rules = programs.programs

        def desil_range(code: str, default: tuple[int, int]) -> tuple[int, int]:
            rule = rules.get(code)
            return rule.desil if rule is not None and rule.desil else default

        self.r_pkh = desil_range("PKH", (1, 4))
        self.r_bpnt = desil_range("BPNT", (1, 5))
        self.r_pbi = desil_range("PBI", (1, 5))
        self.r_kipk = desil_range("KIPK", (1, 3))
        self.r_kube = desil_range("KUBE", (1, 4))
        self.r_uep = desil_range("UEP", (1, 4))
        self.r_pel = desil_range("PELATIHAN", (1, 5))
        self.size_cum = _cum(_SIZE_WEIGHTS)
        self.desil_cum = _cum(_DESIL_WEIGHTS)
        self.kk_min = max(date(2001, 1, 1), today - timedelta(days=365 * 22))
        self.kk_span = max(1, (today - timedelta(days=30) - self.kk_min).days)

    # -- people -------------------------------------------------------------------------------

    def birth(self, age: int) -> date:
        """A birth date giving exactly `age` years today (never in the future)."""
        rng, today = self.rng, self.today
        m = rng.randint(1, 12)
        d = rng.randint(1, 28)
        y = today.year - age - ((m, d) > (today.month, today.day))
        return date(y, m, d)

    def name(self, gender: str, born: date) -> str:
        gen = 0 if born.year < 1975 else (1 if born.year < 1995 else 2)
        first = self.rng.choice(_MALE[gen] if gender == "L" else _FEMALE[gen])
        return f"{first} {self.rng.choice(_SECOND)}"

    def nik(self, gender: str, born: date, home_kec: str, young: bool) -> str:
        rng = self.rng
        r = rng.random()
        if r < (0.95 if young else 0.8):
            prefix = home_kec
        elif r < (0.99 if young else 0.9):
            prefix = rng.choice(self.kec_codes)
        else:
            prefix = rng.choice(_MOVERS)
        dd = born.day + (40 if gender == "P" else 0)
        head = f"{prefix}{dd:02d}{born.month:02d}{born.year % 100:02d}"
        serial = self.nik_serial.get(head)
        serial = rng.randint(1, 40) if serial is None else serial + 1
        if serial > 9999:
            raise RuntimeError("NIK serials exhausted; reduce the number of households")
        self.nik_serial[head] = serial
        return f"{head}{serial:04d}"

    def kk(self, home_kec: str) -> str:
        rng = self.rng
        entry = self.kk_min + timedelta(days=rng.randint(0, self.kk_span))
        head = f"{home_kec}{entry.day:02d}{entry.month:02d}{entry.year % 100:02d}"
        serial = self.kk_serial.get(head)
        serial = rng.randint(1, 60) if serial is None else serial + 1
        if serial > 9999:
            raise RuntimeError("KK serials exhausted; reduce the number of households")
        self.kk_serial[head] = serial
        return f"{head}{serial:04d}"

    # -- households ---------------------------------------------------------------------------

    def household(self, i: int, case: str | None, extreme: int):
        """(rows, no_kk, head nik, desil) of household number i."""
        rng = self.rng
        kels = self.kelurahan
        kel = kels[i] if i < len(kels) else kels[rng.randrange(len(kels))]
        home = kel.kecamatan_code
        cum = self.size_cum

        size = rng.choices(_HOUSEHOLD_SIZES, cum_weights=cum)[0]
        desil = rng.choices(range(1, 11), cum_weights=self.desil_cum)[0]
        head_age = rng.randint(24, 78)
        female_head = rng.random() < 0.2
        want_elder = rng.random() < 0.18
        if case == "extreme":
            desil, size, head_age, female_head = extreme, 5, 41, False
        elif case == "desil5":
            desil, size, head_age = 5, max(size, 3), 38
        elif case == "desil9":
            desil, size = 9, max(size, 2)
        elif case == "elder":
            desil, size, head_age, want_elder, female_head = 3, 4, 44, True, False
        elif case == "child":
            desil, size, head_age, female_head = 3, 4, 35, False

        # composition: (hubungan, gender, age)
        members: list[tuple[str, str, int]] = []
        hg = "P" if female_head else "L"
        members.append(("KEPALA_KELUARGA", hg, head_age))
        if size >= 2 and rng.random() < (0.08 if female_head else 0.9):
            members.append(
                (
                    "SUAMI" if female_head else "ISTRI",
                    "L" if female_head else "P",
                    max(19, head_age + rng.randint(-8, 3)),
                )
            )
        if len(members) < size and want_elder and head_age <= 56:
            elder_age = min(97, head_age + rng.randint(22, 34))
            if case == "elder":
                elder_age = max(elder_age, 76)
            members.append((rng.choice(("ORANG_TUA", "MERTUA")), rng.choice("LPP"), elder_age))
        slots = size - len(members)
        if slots > 0:
            n_cucu = sum(rng.random() < 0.35 for _ in range(slots)) if head_age >= 58 else 0
            n_other = 1 if slots > n_cucu and rng.random() < 0.04 * slots else 0
            n_child = slots - n_cucu - n_other
            top = max(0, min(head_age - 19, 32))
            if case in ("child", "extreme"):
                top = min(top, 15)
            for hub, count, top_age in (("ANAK", n_child, top), ("CUCU", n_cucu, 14)):
                if not count:
                    continue
                # siblings 1-3 years apart, eldest first; stop (smaller household) at age 0
                age = rng.randint(min(top_age, 2 * (count - 1)), top_age)
                for _ in range(count):
                    if age < 0:
                        break
                    members.append((hub, rng.choice("LP"), age))
                    age -= rng.randint(1, 3)
            if n_other:
                members.append(
                    (rng.choice(("FAMILI_LAIN", "LAINNYA")), rng.choice("LP"), rng.randint(15, 60))
                )

        people = []  # (hubungan, gender, born, age, disabilitas)
        for hub, g, age in members:
            born = self.birth(age)
            dis = rng.random() < (0.08 if age >= 60 else 0.022)
            if case == "elder" and hub in ("ORANG_TUA", "MERTUA"):
                dis = True
            people.append((hub, g, born, age, dis))

        # programmes held
        child_max, elder_min = self.child_max, self.elder_min
        has_child = any(p[3] <= child_max for p in people)
        has_component = has_child or any(p[3] >= elder_min or p[4] for p in people)
        typical = case is not None
        exclusion = not typical and desil <= self.r_bpnt[1] and rng.random() < 0.1

        def inr(rng_: tuple[int, int]) -> bool:
            return rng_[0] <= desil <= rng_[1]

        hh_codes: list[str] = []
        personal_pbi = False
        if not exclusion:
            if inr(self.r_pkh):
                if has_component and (typical or rng.random() < 0.8):
                    hh_codes.append("PKH")
            elif desil <= 6 and rng.random() < 0.02:
                hh_codes.append("PKH")  # inclusion error
            if inr(self.r_bpnt):
                if typical or rng.random() < 0.75:
                    hh_codes.append("BPNT")
            elif desil <= 7 and rng.random() < 0.07:
                hh_codes.append("BPNT")  # inclusion error: residents report these
            elif rng.random() < 0.01:
                hh_codes.append("BPNT")
            if inr(self.r_pbi):
                personal_pbi = typical or rng.random() < 0.85
            else:
                personal_pbi = rng.random() < (0.1 if desil <= 7 else 0.02)
            if desil <= 3 and rng.random() < 0.05:
                hh_codes.append("BLT")
            if inr(self.r_kube) and 18 <= head_age <= 60 and rng.random() < 0.03:
                hh_codes.append("KUBE")
            if inr(self.r_uep) and rng.random() < 0.03:
                hh_codes.append("UEP")
        pel = not exclusion and inr(self.r_pel) and rng.random() < 0.03

        known = self.known
        kk = self.kk(home)
        alamat = f"{rng.choice(_STREETS)} No. {rng.randint(1, 150)}"
        rt = f"{rng.randint(1, 10):02d}"
        rw = f"{rng.randint(1, 15):02d}"
        kec_name = self.kec_name[home]
        rows = []
        head_nik = ""
        for hub, g, born, age, dis in people:
            nik = self.nik(g, born, home, age < 10)
            codes = list(hh_codes) if hub == "KEPALA_KELUARGA" else []
            if personal_pbi and (typical or rng.random() < 0.95):
                codes.append("PBI")
            if 6 <= age <= 17 and desil <= 4 and not exclusion and rng.random() < 0.6:
                codes.append("KIP")
            if 18 <= age <= 23 and inr(self.r_kipk) and not exclusion and rng.random() < 0.3:
                codes.append("KIPK")
            if pel and 18 <= age <= 45:
                codes.append("PELATIHAN")
                pel = False
            if hub == "KEPALA_KELUARGA":
                head_nik = nik
            rows.append(
                (
                    kk,
                    nik,
                    self.name(g, born),
                    g,
                    born.isoformat(),
                    hub,
                    alamat,
                    rt,
                    rw,
                    kel.name,
                    kec_name,
                    desil,
                    ";".join(c for c in codes if c in known),
                    int(dis),
                )
            )
        return rows, kk, head_nik, desil


def write_demo_csv(
    path: Path,
    *,
    households: int = 500,
    seed: int = 7,
    region: Region,
    programs: ProgramsConfig,
    today: date,
) -> list[DemoCase]:
    """Write the synthetic extract to `path` (streamed); return the demo cases in it."""
    rng = random.Random(seed)
    gen = _Generator(rng, region, programs, today)
    extreme = programs.extreme_poverty[0]
    plan = [
        ("extreme", f"kemiskinan ekstrem (desil {extreme})"),
        ("desil5", "desil 5"),
        ("desil9", "desil 9"),
        ("elder", "lansia/disabilitas"),
        ("child", "KK dengan anak"),
    ]
    cases: list[DemoCase] = []
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        writerows = w.writerows
        for i in range(households):
            case, label = plan[i] if i < len(plan) else (None, "")
            rows, kk, head_nik, desil = gen.household(i, case, extreme)
            writerows(rows)
            if case is not None:
                cases.append(DemoCase(label, head_nik, kk, desil))
    return cases


async def seed_demo(
    db: Database,
    *,
    households: int = 500,
    seed: int = 7,
    region: Region,
    programs: ProgramsConfig,
    today: date,
    data_dir: Path,
    progress: bool = False,
) -> tuple[ImportReport, list[DemoCase]]:
    """Write `<data_dir>/dtsen_demo.csv` (e.g. data/demo/dtsen_demo.csv) and import it, with
    today as the data date. Raises RuntimeError if the generated file does not pass the checks
    (a bug in the generator, never the user's fault)."""
    path = Path(data_dir) / DEMO_FILE
    cases = await asyncio.to_thread(
        write_demo_csv,
        path,
        households=households,
        seed=seed,
        region=region,
        programs=programs,
        today=today,
    )
    report = await import_dtsen(
        db,
        path,
        region=region,
        programs=programs,
        data_date=today,
        progress=progress,
        actor="cli:seed-demo",
        today=today,
    )
    if not report.imported:
        first = "; ".join(str(e) for e in report.errors[:5])
        raise RuntimeError(f"the generated demo extract did not pass the checks: {first}")
    return report, cases


async def database_is_empty(db: Database) -> bool:
    """True when no household has been imported yet."""
    async with db.tx(write=False) as conn:
        row = (await conn.execute(sa.select(households_table.c.id).limit(1))).first()
    return row is None


async def has_staff(conn) -> bool:
    """Whether any staff account exists (the demo admin is added only when none does)."""
    from db.schema import staff_users

    return (await conn.execute(sa.select(staff_users.c.id).limit(1))).first() is not None
