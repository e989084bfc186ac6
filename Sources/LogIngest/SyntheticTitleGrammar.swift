/// The word grammar of synthetic product titles:
/// brand + product line + descriptor + product type + variant, 4–14 words, so that titles of one
/// line (and of one brand) share long prefixes, as real Amazon titles do
/// ("Lumina Silk Hydrating Face Cream 50 ml", "Lumina Silk Hydrating Night Cream 50 ml").
///
/// The lists are part of the synthetic source's output: changing them changes its bytes, so bump
/// `IngestStage.version` when you do.
enum SyntheticTitleGrammar {
  /// A top-level category with its brands, descriptors and subcategories.
  struct Department {
    var name: String
    /// Relative share of product lines.
    var weight: Double
    var brands: [String]
    /// Product line names ("Silk", "Pure Glow").
    var lineNames: [String]
    var descriptors: [String]
    var subcategories: [Subcategory]
    /// Variants: sizes, counts, colours, ages.
    var variants: [String]
    /// Optional audience suffixes ("for Women").
    var audiences: [String]
  }

  struct Subcategory {
    var name: String
    var productTypes: [String]
  }

  static let departments: [Department] = [
    Department(
      name: "Beauty", weight: 0.5,
      brands: [
        "Lumina", "Aurelle", "Verdana Naturals", "Solace", "Maison Belle", "Kairo", "Petal & Stone", "Nordic Glow",
        "Amberly", "Celeste Paris", "Dermaveil", "Rosewell",
      ],
      lineNames: [
        "Silk", "Pure Glow", "Hydra Boost", "Velvet", "Ultra Repair", "Daily Defense", "Botanical", "Radiance",
        "Night Bloom", "Golden Hour", "True Color", "Wild Rose", "Clear Start", "Ocean Mist", "Total Care",
      ],
      descriptors: [
        "Hydrating", "Anti-Aging", "Brightening", "Oil-Free", "Fragrance Free", "Vitamin C", "Hyaluronic Acid",
        "Sensitive Skin", "Long Lasting", "Organic", "Matte", "Nourishing", "Firming",
      ],
      subcategories: [
        Subcategory(
          name: "Skin Care",
          productTypes: [
            "Face Cream", "Night Cream", "Eye Cream", "Facial Serum", "Cleansing Gel", "Toner", "Sheet Mask",
            "Sunscreen Lotion SPF 30", "Exfoliating Scrub",
          ]),
        Subcategory(
          name: "Hair Care",
          productTypes: ["Shampoo", "Conditioner", "Hair Mask", "Hair Oil", "Styling Gel", "Dry Shampoo Spray"]),
        Subcategory(
          name: "Makeup",
          productTypes: [
            "Lipstick", "Mascara", "Eyeshadow Palette", "Liquid Foundation", "Concealer", "Nail Polish", "Lip Gloss",
          ]),
        Subcategory(
          name: "Fragrance", productTypes: ["Eau de Parfum Spray", "Eau de Toilette Spray", "Body Mist", "Perfume Oil"]),
        Subcategory(
          name: "Bath & Body",
          productTypes: ["Body Lotion", "Shower Gel", "Hand Cream", "Bath Bomb Set", "Body Butter"]),
      ],
      variants: [
        "50 ml", "1.7 Oz", "100 ml", "8 fl oz", "3.4 Ounce", "Travel Size", "Pack of 2", "Pack of 3", "Rose Gold",
        "Nude Beige", "Ruby Red", "Deep Plum", "Light Medium", "30 Count",
      ],
      audiences: ["for Women", "for Men", "for All Skin Types", "for Dry Skin"]),
    Department(
      name: "Toys & Games", weight: 0.3,
      brands: [
        "Brickford", "Playmaker", "Tiny Titans", "Wonderloom", "Galaxy Rangers", "Puzzlewood", "Zoomkid", "Kinderkraft",
        "Dino Dash",
      ],
      lineNames: [
        "Classic", "Galaxy", "Adventure", "Junior", "Pro Series", "Mini", "Mega", "Quest", "Spark", "Summit",
        "Explorer", "Creator",
      ],
      descriptors: [
        "Deluxe", "Magnetic", "Educational", "Glow in the Dark", "Remote Control", "Wooden", "Collector's Edition",
        "Starter", "Battery Operated",
      ],
      subcategories: [
        Subcategory(name: "Building Toys", productTypes: ["Building Set", "Brick Kit", "Construction Vehicle Set"]),
        Subcategory(name: "Puzzles", productTypes: ["Jigsaw Puzzle", "Brain Teaser", "3D Puzzle"]),
        Subcategory(name: "Games", productTypes: ["Board Game", "Card Game", "Party Game"]),
        Subcategory(name: "Action Figures", productTypes: ["Action Figure", "Figure Set", "Battle Playset"]),
        Subcategory(name: "Dolls & Accessories", productTypes: ["Fashion Doll", "Doll House", "Plush Toy"]),
      ],
      variants: [
        "500 Pieces", "1000 Pieces", "Set of 4", "Ages 3+", "Ages 6+", "Ages 8 and Up", "Blue", "Red", "12 Inch",
        "Limited Edition",
      ],
      audiences: ["for Kids", "for Boys and Girls", "for Toddlers", "for Adults"]),
    Department(
      name: "Office Products", weight: 0.2,
      brands: ["Inkwell", "Paperline", "Deskmate", "Northwind Office", "Clarity", "Archway", "Scribe & Co"],
      lineNames: [
        "Essentials", "Everyday", "Signature", "Pro Series", "Studio", "Urban", "Heritage", "Prime", "Horizon",
        "Classic",
      ],
      descriptors: [
        "Heavy Duty", "Recycled", "Ergonomic", "Quick Dry", "Premium", "Refillable", "Acid Free", "Retractable",
      ],
      subcategories: [
        Subcategory(
          name: "Writing Instruments", productTypes: ["Gel Pen", "Ballpoint Pen", "Mechanical Pencil", "Highlighter"]),
        Subcategory(name: "Paper", productTypes: ["Spiral Notebook", "Copy Paper", "Sticky Notes", "Legal Pad"]),
        Subcategory(
          name: "Office Supplies", productTypes: ["Stapler", "Desk Organizer", "Binder Clips", "Label Maker"]),
        Subcategory(name: "Ink & Toner", productTypes: ["Ink Cartridge", "Toner Cartridge"]),
      ],
      variants: [
        "12 Pack", "Pack of 50", "Black Ink", "Blue Ink", "Assorted Colors", "Letter Size", "0.5 mm", "0.7 mm",
        "500 Sheets", "Black",
      ],
      audiences: ["for Office", "for School", "for Home Office"]),
  ]

  /// Word count of a title (words are separated by single spaces).
  static func wordCount(_ title: String) -> Int {
    title.utf8.count(where: { $0 == 0x20 }) + 1
  }
}
