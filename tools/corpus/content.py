"""The study-material text used by generate.py.

Every sentence is distinct, so a sentence identifies its page/slide. The
generator writes exactly these strings into the files and records them in the
*.expected.json files; this text is the reference.
"""

# --------------------------------------------------------------------------
# notes.docx: cell biology, 3 pages separated by explicit page breaks.
DOCX_TITLE = "Cell Biology Study Notes"
DOCX_PAGES = [
    {
        "h1": "Chapter 1: The Living Cell",
        "paras": [
            "Every living organism is built from one or more cells, the smallest units that can carry out all the processes of life. "
            "Matthias Schleiden and Theodor Schwann proposed the cell theory in the late 1830s after years of careful microscopy.",
            "Prokaryotic cells lack a nucleus, whereas eukaryotic cells keep their chromosomes inside a double membrane. "
            "The German physician Rudolf Virchow added the famous rule “omnis cellula e cellula” — every cell arises from a cell.",
        ],
        "h2": "Membranes and Transport",
        "para_with_note": "The plasma membrane is a fluid mosaic of phospholipids and proteins that controls what enters the cytoplasm.",
        "footnote": "The fluid mosaic model was published by Singer and Nicolson in 1972 and is still taught in every introductory course.",
        "bullets": [
            "Simple diffusion moves small nonpolar molecules such as oxygen down their gradient.",
            "Facilitated diffusion uses channel proteins and carrier proteins without spending ATP.",
            "Active transport pumps ions against the gradient, as the sodium–potassium pump does for nerve cells.",
        ],
    },
    {
        "h1": "Chapter 2: Energy and Metabolism",
        "paras": [
            "Metabolism is the sum of all chemical reactions in a cell, divided into anabolic building pathways and catabolic breakdown pathways. "
            "Cells capture the energy released by catabolism in the phosphate bonds of adenosine triphosphate.",
            "Cellular respiration proceeds in an ordered sequence of stages that each take place in a specific compartment of the cell.",
        ],
        "numbered": [
            "Glycolysis splits one glucose molecule into two pyruvate molecules in the cytosol.",
            "The citric acid cycle oxidises acetyl groups inside the mitochondrial matrix.",
            "Oxidative phosphorylation on the inner membrane produces most of the ATP.",
        ],
        "h2": "Enzyme Kinetics",
        "paras2": [
            "Enzymes lower the activation energy of a reaction without being consumed by it. "
            "Leonor Michaelis and Maud Menten described in 1913 how reaction speed depends on substrate concentration — a result still called Michaelis–Menten kinetics.",
        ],
    },
    {
        "h1": "Chapter 3: Genetics Review",
        "paras": [
            "Gregor Mendel crossed garden peas in the monastery garden at Brünn and counted the traits of thousands of offspring. "
            "His results showed that inherited factors separate cleanly instead of blending together.",
        ],
        "table": [
            ["Term", "Meaning", "Example"],
            ["Allele", "A variant form of a gene", "Purple or white flower colour"],
            ["Genotype", "The pair of alleles an organism carries", "Heterozygous Pp plant"],
        ],
        "paras2": [
            "The table above summarises vocabulary that appears in almost every genetics examination. "
            "Remember that a recessive phenotype only appears when both inherited alleles are recessive — the so-called “double dose” rule.",
        ],
    },
]

# --------------------------------------------------------------------------
# sections.docx: ecology, 3 chapters, no page breaks.
SECTIONS_TITLE = "Introduction to Ecology"
SECTIONS = [
    (
        "Chapter 1: Ecosystems and Energy Flow",
        [
            "An ecosystem includes every organism in an area together with the physical environment that surrounds them. "
            "Energy enters most ecosystems as sunlight captured by green plants and algae.",
            "Only about ten percent of the energy at one trophic level reaches the next one, which is why food chains are short. "
            "The Swiss naturalist François-Alphonse Forel studied energy and nutrients in Lake Geneva long before the word ecosystem existed.",
        ],
    ),
    (
        "Chapter 2: Populations and Growth",
        [
            "A population is a group of individuals of one species that live in the same place at the same time. "
            "Without limits a population grows exponentially, doubling again and again in equal intervals.",
            "Real populations level off near the carrying capacity of their habitat, tracing the logistic curve described by Pierre-François Verhulst. "
            "Predators, disease and competition for food are called density-dependent factors — their effect grows with crowding.",
        ],
    ),
    (
        "Chapter 3: Biodiversity and Conservation",
        [
            "Biodiversity covers the variety of genes, species and ecosystems found on Earth. "
            "Tropical rainforests hold more than half of all known species on a small fraction of the land surface.",
            "Habitat loss is the greatest threat to biodiversity today, followed by invasive species and overexploitation. "
            "Protected corridors let animals move between reserves, a strategy used along the Grünes Band that follows the former inner-German border.",
        ],
    ),
]

# --------------------------------------------------------------------------
# notes.odt: chemistry, acids and bases, 3 pages (soft page breaks).
ODT_TITLE = "Acids and Bases"
ODT_PAGES = [
    {
        "h1": "Acids and Bases",
        "paras": [
            "Svante Arrhenius defined an acid as a substance that releases hydrogen ions in water. "
            "His definition works well for aqueous solutions but fails for reactions in other solvents.",
            "Brønsted and Lowry broadened the idea in 1923 by calling any proton donor an acid and any proton acceptor a base.",
        ],
        "h2": "Conjugate Pairs",
        "para_with_note": "When acetic acid gives away a proton it becomes the acetate ion, its conjugate base.",
        "footnote": "Johannes Nicolaus Brønsted worked in Copenhagen, while Thomas Martin Lowry taught chemistry in Cambridge.",
    },
    {
        "h1": "The pH Scale",
        "paras": [
            "Søren Sørensen introduced the pH scale at the Carlsberg Laboratory to describe the acidity of beer wort. "
            "Each step on the scale corresponds to a tenfold change in hydrogen ion concentration.",
            "Pure water at room temperature has a pH of seven, which chemists call neutral.",
        ],
        "list": [
            "Lemon juice is strongly acidic with a pH close to two.",
            "Blood stays slightly basic between seven point three five and seven point four five.",
            "Household ammonia reaches a pH of about eleven.",
        ],
    },
    {
        "h1": "Titration",
        "paras": [
            "A titration adds a solution of known concentration until the reaction with the sample is complete. "
            "The equivalence point is often marked by an indicator that changes colour — phenolphthalein turns pink above pH eight.",
        ],
        "table": [
            ["Indicator", "Acid colour", "Base colour"],
            ["Methyl orange", "Red", "Yellow"],
            ["Bromothymol blue", "Yellow", "Blue"],
        ],
        "paras2": [
            "Always rinse the burette with the titrant before filling it, otherwise leftover water dilutes the solution. "
            "The French chemist Joseph Louis Gay-Lussac popularised the burette in the early nineteenth century.",
        ],
    },
]

# --------------------------------------------------------------------------
# lecture.pptx: history of the industrial revolution, 5 slides in presentation order.
PPTX_TITLE = "The Industrial Revolution"
PPTX_SLIDES = [
    {
        "title": "The Industrial Revolution",
        "bullets": [
            "Industrialisation began in Britain around 1760 and spread across Europe during the next century.",
            "Cheap coal, navigable rivers and a growing colonial market favoured early British factories.",
            "Historians still debate whether the change was a sudden revolution or a slow evolution.",
        ],
    },
    {
        "title": "Steam Power",
        "bullets": [
            "Thomas Newcomen built an atmospheric engine in 1712 to pump water out of coal mines.",
            "James Watt added a separate condenser and cut fuel consumption by about three quarters.",
            "Steam engines freed mills from riverbanks so factories could grow inside cities.",
        ],
        "notes": "Remind the class that Watt did not invent the steam engine — he improved an existing design. Ask students to compare the Newcomen engine with the Watt engine in their workbooks.",
    },
    {
        "title": "Textile Production in Numbers",
        "bullets": [
            "Mechanised spinning multiplied the output of a single worker many times over.",
            "The figures below compare hand spinning with the new machines.",
        ],
        "table": [
            ["Machine", "Inventor", "Spindles per worker"],
            ["Spinning jenny", "James Hargreaves", "Eight at first"],
            ["Spinning mule", "Samuel Crompton", "Several hundred"],
        ],
    },
    {
        "title": "Railways and Société",
        "bullets": [
            "George Stephenson’s Rocket won the Rainhill trials in 1829 with an average speed near twelve miles per hour.",
            "The Liverpool and Manchester Railway opened in 1830 as the first intercity line run entirely by steam.",
            "In France the Compagnie du chemin de fer de Paris à Saint-Germain opened its line in 1837.",
        ],
        "notes": "Mention that Belgium built the first national railway network on the continent. Point out the “railway mania” share bubble of the 1840s as a link to the economics unit.",
    },
    {
        "title": "Social Consequences",
        "bullets": [
            "Workers moved from villages into crowded industrial towns such as Manchester and Leeds.",
            "Children worked long shifts in mills until the Factory Act of 1833 set the first limits.",
            "Friedrich Engels described the living conditions of the working class in 1845 — a book written in German while he lived in England.",
        ],
    },
]
# slide XML file order: element i is the presentation position (0-based) of the
# slide created i-th, so slide2.xml holds presentation slide 4, and so on.
PPTX_CREATION_ORDER = [0, 3, 1, 4, 2]

# --------------------------------------------------------------------------
# lecture.odp: astronomy, 4 slides.
ODP_TITLE = "A Short Tour of the Solar System"
ODP_SLIDES = [
    {
        "title": "The Solar System",
        "bullets": [
            "The Sun contains more than ninety-nine percent of the mass of the solar system.",
            "Eight planets orbit the Sun in nearly the same plane, called the ecliptic.",
        ],
    },
    {
        "title": "Rocky Planets",
        "bullets": [
            "Mercury, Venus, Earth and Mars have solid surfaces made of silicate rock and iron.",
            "Venus has a runaway greenhouse effect that makes it hotter than Mercury.",
            "Mars shows dry river valleys that suggest liquid water flowed there long ago.",
        ],
        "notes": "Show the photograph of Olympus Mons and compare its height with Mount Everest. Mention that the Soviet probe Venera 7 was the first to land on another planet — in December 1970.",
    },
    {
        "title": "Gas Giants",
        "bullets": [
            "Jupiter and Saturn consist mostly of hydrogen and helium around a small dense core.",
            "Galileo Galilei discovered the four largest moons of Jupiter in January 1610.",
        ],
    },
    {
        "title": "Ice Giants and Beyond",
        "bullets": [
            "Uranus rotates on its side, probably because of a giant collision early in its history.",
            "Urbain Le Verrier predicted the position of Neptune from irregularities in the orbit of Uranus.",
            "The Kuiper belt beyond Neptune holds icy bodies such as the dwarf planet Pluto.",
        ],
    },
]

# --------------------------------------------------------------------------
# notes.rtf: earth science, plate tectonics, 3 pages (\page).
RTF_TITLE = "Plate Tectonics"
RTF_PAGES = [
    {
        "heading": "Continental Drift",
        "paras": [
            "Alfred Wegener proposed in 1912 that the continents once formed a single landmass he called Pangaea.",
            "He pointed to matching fossils of the reptile Mesosaurus on both sides of the South Atlantic. "
            "Critics rejected his idea because he could not explain which force moved the continents.",
        ],
        "para_with_note": "Wegener’s évidence included coal seams in Antarctica and glacial scratches in tropical Africa.",
        "footnote": "Wegener died in 1930 on the Greenland ice sheet during his fourth expedition there.",
    },
    {
        "heading": "Sea-Floor Spreading",
        "paras": [
            "Harry Hess suggested in the early 1960s that new oceanic crust forms at mid-ocean ridges and spreads outward.",
            "Magnetic stripes on the ocean floor record reversals of the Earth’s magnetic field like a tape recorder. "
            "The rate of spreading is about as fast as fingernails grow — a few centimetres per year.",
        ],
        "table": [
            ["Boundary", "Motion", "Example"],
            ["Divergent", "Plates move apart", "Mid-Atlantic Ridge"],
            ["Convergent", "Plates collide", "Andes Mountains"],
        ],
    },
    {
        "heading": "Earthquakes and Volcanoes",
        "paras": [
            "Most earthquakes occur along plate boundaries where stress builds up and is suddenly released.",
            "The Pacific Ring of Fire contains about three quarters of the active volcanoes on Earth. "
            "Geologists in Zürich and Genève use seismometers to measure even the weakest tremors in the Alps.",
        ],
    },
]

# --------------------------------------------------------------------------
# article.html: history of printing. Pages split at h1/h2.
HTML_TITLE = "The Printing Press and the Spread of Knowledge — History Notes"
HTML_SECTIONS = [
    {
        "tag": "h1",
        "heading": "The Printing Press and the Spread of Knowledge",
        "blocks": [
            ("p", "Before movable type, every book in Europe had to be copied by hand, usually by monks working in a scriptorium."),
            ("p", "A single Bible could take a scribe more than a year to finish, so books were rare and expensive."),
        ],
    },
    {
        "tag": "h2",
        "heading": "Gutenberg’s Invention",
        "blocks": [
            ("p", "Johannes Gutenberg of Mainz combined metal type, oil-based ink and a wine press around 1450."),
            ("h3", "The Mould and the Type"),
            ("p", "His hand mould allowed craftsmen to cast thousands of identical letters from an alloy of lead, tin & antimony."),
            ("ul", [
                "Type could be reused for page after page.",
                "Ink made with linseed oil stuck to metal better than water-based ink.",
                "The screw press gave an even impression across the whole sheet.",
            ]),
        ],
    },
    {
        "tag": "h2",
        "heading": "Spread Across Europe",
        "blocks": [
            ("p", "By 1500 printing shops operated in more than two hundred European towns — from Venice to Lübeck."),
            ("table", [
                ["City", "First press", "Famous printer"],
                ["Venice", "1469", "Aldus Manutius"],
                ["Paris", "1470", "Ulrich Gering"],
            ]),
            ("h3", "Effects on Religion and Science"),
            ("p", "Martin Luther’s pamphlets sold in huge numbers and carried the Reformation far beyond Wittenberg."),
            ("p", "Astronomers such as Tycho Brahe printed their observations, so scientific results could be checked by readers everywhere."),
        ],
    },
]
HTML_FORBIDDEN = ["zorblaxscript", "quuxstyleword", "trackingpixelcode"]

# --------------------------------------------------------------------------
# book.epub: ancient Rome, 3 chapters (spine order a, b, c).
EPUB_TITLE = "Rome: From Republic to Empire"
EPUB_CHAPTERS = [
    (
        "chap_a.xhtml",
        "The Roman Republic",
        [
            "According to tradition the Romans expelled their last king in 509 BC and founded a republic.",
            "Two consuls elected every year led the state, and the Senate advised them on war and finance.",
            "Ordinary citizens called plebeians fought for generations to win political rights from the patrician families.",
        ],
    ),
    (
        "chap_b.xhtml",
        "Julius Caesar",
        [
            "Gaius Julius Caesar conquered Gaul between 58 and 50 BC and described the campaign in his own commentaries.",
            "In January 49 BC he crossed the Rubicon with one legion, which started a civil war against Pompey.",
            "Caesar was murdered on the Ides of March in 44 BC by senators who feared he would make himself king.",
        ],
    ),
    (
        "chap_c.xhtml",
        "Augustus and the Empire",
        [
            "Caesar’s adopted heir Octavian defeated Mark Antony and Cleopatra at the battle of Actium in 31 BC.",
            "The Senate granted him the name Augustus in 27 BC, and historians date the empire from that moment.",
            "The long peace that followed is known as the Pax Romana — roughly two centuries of stability around the Mediterranean.",
        ],
    ),
]
# manifest/file order differs from the spine order (a, b, c)
EPUB_MANIFEST_ORDER = ["chap_b.xhtml", "chap_a.xhtml", "chap_c.xhtml"]

# --------------------------------------------------------------------------
# plain text files
CP1252_TEXT = (
    "Deutsch und Französisch für die Prüfung\n"
    "\n"
    "Die Straße vor der Universität heißt Goethestraße, und das Mensaessen kostet 4,50 €.\n"
    "Übungsaufgabe: Erklären Sie den Unterschied zwischen „Klima“ und Wetter in drei Sätzen.\n"
    "Le café près de la gare est fermé le dimanche, mais la boulangerie reste ouverte.\n"
    "Élodie a préparé un résumé de la Révolution française pour le cours de jeudi.\n"
    "Der Lehrer sagte: “Lesen Sie bis Montag das Kapitel über die Weimarer Republik.”\n"
    "Les élèves doivent connaître les dates clés — 1789, 1848 et 1871 — par cœur.\n"
)

UTF16LE_TEXT = (
    "Greek letters in physics and chemistry\n"
    "\n"
    "The Greek letter λ stands for wavelength, and ν stands for frequency.\n"
    "Density is written as ρ, while the angle of rotation is usually θ.\n"
    "The word photosynthesis comes from φῶς meaning light and σύνθεσις meaning putting together.\n"
    "Dmitri Mendeleev wrote his periodic law in Russian as Периодический закон in 1869.\n"
    "Students in Athens call the periodic table ο περιοδικός πίνακας.\n"
)

UTF16BE_TEXT = (
    "Russian vocabulary for the chemistry laboratory\n"
    "\n"
    "вода means water and кислота means acid.\n"
    "The word for salt is соль, and the word for gas is газ.\n"
    "A laboratory is called лаборатория, which sounds almost the same as in English.\n"
    "Remember that the Cyrillic letter р is pronounced like the Latin letter r.\n"
)

LATIN1_MD = (
    "# Notes d'histoire : la Révolution française\n"
    "\n"
    "La prise de la Bastille a eu lieu le 14 juillet 1789 à Paris.\n"
    "Les députés du tiers état se sont réunis dans la salle du Jeu de paume.\n"
    "\n"
    "## Les causes\n"
    "\n"
    "- La crise financière du royaume était très grave.\n"
    "- Les idées des Lumières circulaient dans les salons et les cafés.\n"
    "- Le prix du pain avait fortement augmenté après une mauvaise récolte.\n"
    "\n"
    "## Vocabulaire allemand\n"
    "\n"
    "Der Sturm auf die Bastille gilt als Beginn der Französischen Revolution; "
    "die Bürger von Paris waren müde und hungrig, und die Hauptstraße war voller Menschen.\n"
)

# --------------------------------------------------------------------------
# OCR paragraphs: plain English, ASCII only.
OCR_PAGE_PNG = (
    "The water cycle describes how water moves between the oceans, the air and the land. "
    "Heat from the sun evaporates water from the surface of lakes and seas, and plants release "
    "more water through their leaves. As the warm moist air rises it cools, and the vapour "
    "condenses into tiny droplets that form clouds. When the droplets grow heavy enough they fall "
    "as rain or snow. Some of this water soaks into the ground and becomes groundwater, while the "
    "rest flows through rivers back to the sea, where the cycle begins again."
)
OCR_PHOTO_JPG = (
    "Photosynthesis takes place in the chloroplasts of green plants. Light energy is absorbed by "
    "chlorophyll, a pigment that reflects green light and absorbs red and blue light. The plant uses "
    "this energy to split water molecules and to release oxygen into the air. Carbon dioxide taken "
    "from the atmosphere is then fixed into sugar during the light independent reactions. These "
    "sugars feed the plant and, through food chains, almost every other living thing on the planet. "
    "Without photosynthesis there would be very little oxygen for animals to breathe."
)
OCR_SCAN_PDF = [
    "The ancient Egyptians built their civilisation along the banks of the river Nile. Every summer "
    "the river flooded and left behind a layer of rich black soil that was perfect for farming. "
    "Farmers grew wheat and barley and used simple canals to carry water to their fields. Scribes "
    "recorded the harvest and collected taxes for the pharaoh, who was believed to be a living god. "
    "The great pyramids at Giza were built as tombs for three kings of the Old Kingdom more than "
    "four thousand years ago.",
    "The Roman road network connected the provinces of the empire with the city of Rome. Engineers "
    "laid the roads in several layers of stone and gravel so that they drained well and lasted for "
    "centuries. Soldiers could march quickly along these roads to defend the frontier, and merchants "
    "used them to carry grain, wine and olive oil. Milestones along the way told travellers how far "
    "they had come. Some of these old roads are still used by modern traffic today.",
]
OCR_MIXED_PDF = [
    "Newton described three laws of motion in his famous book published in the year sixteen eighty "
    "seven. The first law says that an object stays at rest or keeps moving in a straight line unless "
    "a force acts on it. The second law links force, mass and acceleration, so a larger force gives a "
    "larger acceleration. The third law states that every action has an equal and opposite reaction. "
    "Together these laws explain the motion of falling apples, rolling carts and orbiting planets.",
    "Electric current is the flow of charge through a conductor such as a copper wire. The voltage of "
    "a battery pushes the charge around the circuit, and the resistance of the wire opposes the flow. "
    "Georg Ohm showed that the current is proportional to the voltage when the temperature stays the "
    "same. In a series circuit the same current passes through every component, while in a parallel "
    "circuit the current divides between the branches. Fuses protect a circuit by melting when the "
    "current becomes too large.",
]
OCR_TIFF = [
    "Volcanoes form where molten rock from deep inside the earth reaches the surface. The molten rock "
    "is called magma while it is underground and lava once it flows out of a vent. Some volcanoes "
    "erupt quietly with slow rivers of lava, while others explode violently and throw ash high into "
    "the sky. The ash can travel around the world and cool the climate for a year or more. Scientists "
    "watch for small earthquakes and rising gas levels to warn people before an eruption begins.",
    "The human heart is a muscular pump about the size of a closed fist. It has four chambers, two "
    "upper atria and two lower ventricles, separated by valves that keep blood flowing in one "
    "direction. The right side of the heart sends blood to the lungs to collect oxygen, and the left "
    "side pumps the oxygen rich blood to the rest of the body. A healthy adult heart beats around "
    "seventy times every minute, even while the person is asleep.",
]
