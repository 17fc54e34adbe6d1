import SwallowCLI

@main
enum SwallowMain {
    static func main() async {
        await SwallowCommand.main()
    }
}
